"""Host-side power meters: read by the host that drives the device, timed on the host's wall clock.

A device profile's `power:` mapping names one (`source`) with its options; `open_meter` builds it.
Every meter has the same shape: `describe()` (the power log header's fields), `check()` (raises
PowerUnavailable saying what is missing and the fix), `start(emit)` (samples in a daemon thread,
`emit({"t_ns", "watts", "volts", "amps"})`), `stop()` (idempotent; every sample emitted by then).

- RDTech UM24C/UM25C/UM34C over Bluetooth serial (`um24c`, `um25c`, `um34c`): polled with 0xF0,
  answered with a 130-byte frame (offsets and scaling from kolinger/rd-usb `interfaces/um.py`).
- A serial line meter (`serial-meter`): a small board streaming `timestamp_ms,volts,amps` on its
  own clock, mapped to the host's wall clock at stop().
- A command (`command`): a program printing `time_s,watts` lines, time_s in Unix seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import threading
import time
from collections import deque

import serial

from edgebench.power.meter_base import (
    Meter,
    PowerUnavailable,
    _check_port,
    _open_port,
    _require,
    _stream_interval_s,
)
from edgebench.power.um import UmMeter, decode_um_frame

__all__ = [
    "METERS",
    "CommandMeter",
    "LineMeter",
    "Meter",
    "PowerUnavailable",
    "UmMeter",
    "decode_um_frame",
    "open_meter",
]


# --- Serial line meter -----------------------------------------------------------------------


class LineMeter(Meter):
    """Reads `timestamp_ms,volts,amps` lines stamped on the board's clock; maps them at stop()."""

    min_interval_s = 0.001  # the timestamps' resolution; the board sets the rate

    def __init__(self, options: dict) -> None:
        super().__init__(options)
        self.port = _require(options, "port")
        self.baud = int(options.get("baud", 115200))
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


# --- Command ---------------------------------------------------------------------------------

STDERR_TAIL_LINES = 20
TERMINATE_GRACE_S = 5


class CommandMeter(Meter):
    """Runs a program (no shell) that prints `time_s,watts` lines, time_s in Unix seconds."""

    min_interval_s = 0.0  # the program sets the rate

    def __init__(self, options: dict) -> None:
        super().__init__(options)
        command = _require(options, "command")
        if isinstance(command, str) or not command:
            raise ValueError("power.command must be a non-empty list of argv strings (no shell)")
        self.command = [str(arg) for arg in command]
        self.malformed = 0
        self._process: subprocess.Popen | None = None
        self._stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self._stderr_thread: threading.Thread | None = None
        self._emitted_ns: list[int] = []

    def describe(self) -> dict:
        return {
            **super().describe(),
            "interval_s": _stream_interval_s(self.options, self._emitted_ns),
            "command": self.command,
        }

    def check(self) -> None:
        program = self.command[0]
        if shutil.which(program):
            return
        if os.path.isfile(program) and os.access(program, os.X_OK):
            return
        raise PowerUnavailable(
            f"power command {program!r} is not on PATH nor an executable file: "
            "install it or give its full path in power.command"
        )

    def _open(self) -> None:
        try:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                start_new_session=True,  # its own process group: stop() ends its children too
            )
        except OSError as error:
            raise PowerUnavailable(
                f"cannot run power command {self.command[0]!r}: {error}"
            ) from error
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()

    def _drain_stderr(self) -> None:
        for line in self._process.stderr:
            self._stderr_tail.append(line.rstrip("\n"))

    def _run(self) -> None:
        for line in self._process.stdout:
            self._take(line)
        status = self._process.wait()
        if not self._stopping.is_set():
            self._stderr_thread.join(timeout=1)
            self._record_exit(status)

    def _take(self, line: str) -> None:
        try:
            time_s, watts = line.strip().split(",")
            sample = {"t_ns": round(float(time_s) * 1e9), "watts": float(watts)}
        except ValueError:
            self.malformed += 1
            return
        self._emitted_ns.append(sample["t_ns"])
        self._emit(sample)

    def _record_exit(self, status: int) -> None:
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        tail = " | ".join(self._stderr_tail)[-500:]
        self.error = f"power command {self.command[0]!r} {how} before stop" + (
            f"; stderr: {tail}" if tail else ""
        )

    def stop(self) -> None:
        exited_early = self._process is not None and self._process.poll() is not None
        super().stop()
        if exited_early and self.error is None:
            self._record_exit(self._process.returncode)

    def _halt(self) -> None:
        process = self._process
        if process.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            process.wait(TERMINATE_GRACE_S)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            process.wait()

    def _signal_group(self, signum: int) -> None:
        """Signal the process group this meter started (its pid is the group id), never by name."""
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            pass

    def _close(self) -> None:
        self._stderr_thread.join()
        self._process.stdout.close()
        self._process.stderr.close()


METERS: dict[str, type[Meter]] = {
    "um24c": UmMeter,
    "um25c": UmMeter,
    "um34c": UmMeter,
    "serial-meter": LineMeter,
    "command": CommandMeter,
}


def open_meter(options: dict) -> Meter:
    """The meter a profile's `power:` mapping names (not started; call check() then start())."""
    source = options.get("source")
    if source not in METERS:
        raise ValueError(f"not a host meter: {source!r} (known: {', '.join(METERS)})")
    return METERS[source](options)
