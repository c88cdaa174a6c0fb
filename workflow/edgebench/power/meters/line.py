"""A serial line meter (`serial-meter`): a small board (an INA219/INA226 on a microcontroller)
streaming `timestamp_ms,volts,amps` lines on its own clock, mapped to the host's wall clock at
stop() by the least-delayed line."""

from __future__ import annotations

import statistics
import time

import serial

from ._base import (
    BAUD_OPTION,
    PORT_OPTION,
    Meter,
    _check_port,
    _open_port,
    _require,
    _stream_interval_s,
)

# --- Serial line meter -----------------------------------------------------------------------


class LineMeter(Meter):
    """Reads `timestamp_ms,volts,amps` lines stamped on the board's clock; maps them at stop()."""

    name = "serial-meter"
    description = "a small board (INA219/INA226) streaming `timestamp_ms,volts,amps` lines"
    kind = "power"
    default_interval_ms = 100  # its line interval; the board sets the rate
    interval_note = "The board's line interval (ms): it sets the rate."
    options = {"port": PORT_OPTION, "baud": {**BAUD_OPTION, "default": 115200}}
    required = ("port",)

    def __init__(self, options: dict) -> None:
        super().__init__(options)
        self.port = _require(options, "port")
        self.baud = int(options.get("baud", self.default("baud")))
        self.malformed = 0
        self.offset_ns: int | None = None
        self.offset_uncertainty_ns: int | None = None
        self._readings: list[tuple[int, float, float, int]] = []  # meter_ns, volts, amps, host_ns
        self._serial: serial.Serial | None = None
        self._emitted_ns: list[int] = []

    def describe(self) -> dict:
        header = {
            **super().describe(),
            "interval_s": _stream_interval_s(self.options, self._emitted_ns),
            "port": self.port,
            "baud": self.baud,
        }
        if self.offset_ns is not None:
            header.update(
                offset_ns=self.offset_ns,
                offset_uncertainty_ns=self.offset_uncertainty_ns,
                malformed_lines=self.malformed,
            )
        return header

    def check(self) -> None:
        _check_port(self.port, "plug the meter board in, or fix power.port")

    def _open(self) -> None:
        self._serial = _open_port(self.port, self.baud, timeout=0.1)
        self._serial.reset_input_buffer()

    def _run(self) -> None:
        pending = bytearray()
        first = True
        while not self._stopping.is_set():
            try:
                chunk = self._serial.read(max(1, self._serial.in_waiting))
            except (serial.SerialException, OSError) as error:
                self.error = f"serial meter on {self.port}: {error}"
                return
            host_ns = time.time_ns()
            pending += chunk
            *lines, rest = pending.split(b"\n")
            pending = bytearray(rest)
            for line in lines:
                if first:  # opened mid-stream: the first line may be cut, yet still parse
                    first = False
                    continue
                self._take(line, host_ns)

    def _take(self, line: bytes, host_ns: int) -> None:
        try:
            meter_ms, volts, amps = (float(field) for field in line.decode("ascii").split(","))
        except ValueError:  # also UnicodeDecodeError, a subclass
            self.malformed += 1
            return
        self._readings.append((round(meter_ms * 1e6), volts, amps, host_ns))

    def _close(self) -> None:
        if self._serial is not None:
            self._serial.close()

    def _flush(self) -> None:
        if not self._readings:
            return
        # Each line's receive time minus its meter time is the offset plus that line's delay;
        # the least-delayed line gives the best offset (as NTP picks its best sample).
        differences = [host_ns - meter_ns for meter_ns, _, _, host_ns in self._readings]
        self.offset_ns = min(differences)
        self.offset_uncertainty_ns = round(statistics.median(differences)) - self.offset_ns
        for meter_ns, volts, amps, _ in self._readings:
            t_ns = meter_ns + self.offset_ns
            self._emitted_ns.append(t_ns)
            self._emit({"t_ns": t_ns, "watts": volts * amps, "volts": volts, "amps": amps})
