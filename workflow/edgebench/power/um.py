"""RDTech UM24C / UM25C / UM34C USB meters over (Bluetooth) serial: polled with 0xF0, answered
with a 130-byte big-endian frame (offsets and scaling from kolinger/rd-usb `interfaces/um.py`)."""

from __future__ import annotations

import struct
import time

import serial

from edgebench.power.meter_base import (
    Meter,
    _check_port,
    _open_port,
    _require,
)

# --- RDTech UM24C / UM25C / UM34C ------------------------------------------------------------

UM_FRAME_BYTES = 130
UM_REQUEST = b"\xf0"
# model -> (model id at offset 0, volts per unit, amps per unit)
UM_MODELS = {
    "um24c": (0x0963, 0.01, 0.001),
    "um25c": (0x09C9, 0.001, 0.0001),
    "um34c": (0x0D4C, 0.01, 0.001),
}
UM_MODEL_BY_ID = {model_id: model for model, (model_id, _, _) in UM_MODELS.items()}
UM_MIN_INTERVAL_MS = 500
UM_TIMEOUTS_IN_A_ROW = 3


def decode_um_frame(frame: bytes, model: str | None = None) -> dict:
    """A UM frame's readings; `model` (the configured one) must match the frame's model id."""
    if len(frame) != UM_FRAME_BYTES:
        raise ValueError(f"UM frame is {len(frame)} bytes, expected {UM_FRAME_BYTES}")
    model_id, raw_volts, raw_amps, raw_watts, temp_c = struct.unpack_from(">HHHIH", frame, 0)
    found = UM_MODEL_BY_ID.get(model_id)
    if found is None or (model is not None and found != model):
        expected = f"{model} (0x{UM_MODELS[model][0]:04x})" if model else "a UM24C/UM25C/UM34C"
        raise ValueError(
            f"UM frame has model id 0x{model_id:04x} ({found or 'unknown'}), expected {expected}"
        )
    _, volts_unit, amps_unit = UM_MODELS[found]
    mah, mwh = struct.unpack_from(">II", frame, 102)
    return {
        "model": found,
        "volts": raw_volts * volts_unit,
        "amps": raw_amps * amps_unit,
        "watts": raw_watts * 0.001,
        "temp_c": temp_c,
        "mah": mah,
        "mwh": mwh,
    }


class UmMeter(Meter):
    """Polls an RDTech UM meter: write 0xF0, read one frame, every interval_ms."""

    min_interval_s = UM_MIN_INTERVAL_MS / 1000

    def __init__(self, options: dict) -> None:
        super().__init__(options)
        if self.source not in UM_MODELS:
            raise ValueError(f"not a UM meter: {self.source!r} (known: {', '.join(UM_MODELS)})")
        self.port = _require(options, "port")
        self.baud = int(options.get("baud", 9600))
        self.interval_ms = options.get("interval_ms", UM_MIN_INTERVAL_MS)
        if self.interval_ms < UM_MIN_INTERVAL_MS:
            raise ValueError(
                "interval_ms below 500: the meter refreshes about twice a second, "
                "faster polls return duplicates"
            )
        self.timeouts = 0
        # A Bluetooth round trip takes tens of ms; a second means the link or meter is gone.
        self.read_timeout_s = 1.0
        self._serial: serial.Serial | None = None

    def describe(self) -> dict:
        return {
            **super().describe(),
            "interval_s": self.interval_ms / 1000,
            "model": self.source.upper(),
            "port": self.port,
            "baud": self.baud,
        }

    def check(self) -> None:
        _check_port(
            self.port,
            "pair the meter and bind it (e.g. `rfcomm bind 0 MAC`), or fix power.port",
        )

    def _open(self) -> None:
        self._serial = _open_port(self.port, self.baud, timeout=self.read_timeout_s)

    def _run(self) -> None:
        interval_s = self.interval_ms / 1000
        next_poll = time.monotonic()
        in_a_row = 0
        while not self._stopping.is_set():
            try:
                sample = self._poll()
            except (ValueError, serial.SerialException, OSError) as error:
                self.error = f"{self.source} on {self.port}: {error}"
                return
            if sample is None:
                self.timeouts += 1
                in_a_row += 1
                if in_a_row >= UM_TIMEOUTS_IN_A_ROW:
                    self.error = (
                        f"{self.source} on {self.port}: {in_a_row} polls in a row timed out"
                    )
                    return
            else:
                in_a_row = 0
                self._emit(sample)
            next_poll = max(next_poll + interval_s, time.monotonic())
            self._stopping.wait(next_poll - time.monotonic())

    def _poll(self) -> dict | None:
        """One request and its frame, timed at their midpoint; None when the frame timed out."""
        port = self._serial
        port.reset_input_buffer()  # a late answer to an earlier poll would shift every frame
        sent_ns = time.time_ns()
        port.write(UM_REQUEST)
        frame = port.read(UM_FRAME_BYTES)
        received_ns = time.time_ns()
        if len(frame) < UM_FRAME_BYTES:
            return None
        reading = decode_um_frame(frame, self.source)
        return {
            "t_ns": (sent_ns + received_ns) // 2,
            "watts": reading["watts"],
            "volts": reading["volts"],
            "amps": reading["amps"],
        }

    def _close(self) -> None:
        if self._serial is not None:
            self._serial.close()
