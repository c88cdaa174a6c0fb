"""RDTech UM24C / UM25C / UM34C USB meters over (Bluetooth) serial: polled with 0xF0, answered
with a 130-byte big-endian frame (offsets and scaling from kolinger/rd-usb `interfaces/um.py`).

The meter refreshes about twice a second and answers every poll with its latest frame. It is
polled every UM_POLL_S; a frame whose readings differ from the previous poll's is a new refresh,
kept once and stamped at the midpoint between the two polls' sends (the value is as old as the
refresh, not as the poll); `stamp_uncertainty_ns` in the meter log's final header is what that
placement costs. A poll that times out (a flaky link) loses only itself: the gap is recorded."""

from __future__ import annotations

import statistics
import struct
import time
from dataclasses import dataclass

import serial

from ._base import (
    BAUD_OPTION,
    PORT_OPTION,
    Meter,
    PowerUnavailable,
    _check_port,
    _open_port,
    _require,
)

# --- RDTech UM24C / UM25C / UM34C ------------------------------------------------------------

UM_FRAME_BYTES = 130
UM_REQUEST = b"\xf0"
UM_MIN_INTERVAL_MS = 500  # the meter's refresh: about twice a second
UM_POLL_S = 0.1  # polls start this often (a 9600-baud frame takes 135 ms: back to back)
UM_READINGS_BYTES = 110  # model .. accumulated mWh; the record-time seconds after it tick apart
UM_RECONNECT_S = 1.0  # after the port is lost: how often it is opened again


def decode_um_frame(frame: bytes, model: str | None = None) -> dict:
    """A UM frame's readings; `model` (the configured one) must match the frame's model id."""
    if len(frame) != UM_FRAME_BYTES:
        raise ValueError(f"UM frame is {len(frame)} bytes, expected {UM_FRAME_BYTES}")
    model_id, raw_volts, raw_amps, raw_watts, temp_c = struct.unpack_from(">HHHIH", frame, 0)
    by_id = {model_id: model for model, (model_id, _, _) in UM_MODELS.items()}
    found = by_id.get(model_id)
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


@dataclass
class Poll:
    """One request and its answer: sent and received on the host's wall clock."""

    sent_ns: int
    received_ns: int
    readings: bytes  # the frame's measured part, to tell a new refresh from a repeated one
    frame: bytes


class UmMeter(Meter):
    """Polls an RDTech UM meter faster than it refreshes and keeps one sample per refresh,
    stamped at the refresh (see `_stamp`); a lost poll loses only its readings (a gap). One
    subclass per model: its name, the model id its frames carry, its volt and amp steps."""

    model_id: int
    volts_unit: float
    amps_unit: float

    kind = "power"
    default_interval_ms = UM_MIN_INTERVAL_MS
    min_interval_ms = UM_MIN_INTERVAL_MS
    interval_note = (
        "The meter's refresh interval (about twice a second; less is refused): it is polled "
        "faster and each refresh kept once."
    )
    options = {"port": PORT_OPTION, "baud": {**BAUD_OPTION, "default": 9600}}
    required = ("port",)

    def __init__(self, options: dict) -> None:
        super().__init__(options)
        self.port = _require(options, "port")
        self.baud = int(options.get("baud", self.default("baud")))
        self.interval_ms = options.get("interval_ms", self.default("interval_ms"))
        if self.interval_ms < UM_MIN_INTERVAL_MS:
            raise ValueError(
                "interval_ms below 500: it is the meter's refresh interval (about twice a "
                "second); the meter is polled faster than that and each refresh kept once"
            )
        self.poll_s = UM_POLL_S
        self.timeouts = 0
        self.lost_polls = 0
        self.gaps: list[dict] = []  # host wall ns without an answer: from, to, polls lost
        self.stamp_costs_ns: list[int] = []  # each sample's half poll gap plus its read time
        # A Bluetooth round trip takes tens of ms; a second means the link or meter is gone.
        self.read_timeout_s = 1.0
        self._serial: serial.Serial | None = None
        self._last: Poll | None = None  # the latest poll answered
        self._stamped_ns: int | None = None  # the latest refresh's stamp
        self._lost_since: int | None = None  # when the current run of lost polls began
        self._lost_in_gap = 0

    def describe(self) -> dict:
        header = {
            **super().describe(),
            "interval_s": self.interval_ms / 1000,
            "model": self.source.upper(),
            "port": self.port,
            "baud": self.baud,
            "poll_s": self.poll_s,
            "stamp": "refresh time: midpoint of the sends of the last poll showing the previous "
            "frame and the first showing this one (the first frame only sets the baseline)",
        }
        if self._thread is not None:
            header.update(
                stamp_uncertainty_ns=self.stamp_uncertainty_ns(),
                timeouts=self.timeouts,
                lost_polls=self.lost_polls,
                gaps=self.gaps,
            )
        return header

    def stamp_uncertainty_ns(self) -> int | None:
        """The typical cost of placing a sample at its refresh: half the gap between the two
        polls around the refresh plus the read time (the median over the samples)."""
        return int(statistics.median(self.stamp_costs_ns)) if self.stamp_costs_ns else None

    def check(self) -> None:
        _check_port(
            self.port,
            "pair the meter and bind it (e.g. `rfcomm bind 0 MAC`), or fix power.port",
        )

    def _open(self) -> None:
        self._serial = _open_port(self.port, self.baud, timeout=self.read_timeout_s)

    def _run(self) -> None:
        next_poll = time.monotonic()
        while not self._stopping.is_set():
            try:
                self._take(self._poll())
            except ValueError as error:  # not this meter (a wrong model): no sample will do
                if self._last is None:
                    self.error = f"{self.source} on {self.port}: {error}"
                    return
                self._lose()  # a garbled frame on a flaky link
            except (serial.SerialException, OSError):
                self._lose()
                self._reopen()
            next_poll = max(next_poll + self.poll_s, time.monotonic())
            self._stopping.wait(next_poll - time.monotonic())
        self._close_gap(time.time_ns())

    def _poll(self) -> Poll | None:
        """One request and its frame; None when the frame timed out."""
        port = self._serial
        port.reset_input_buffer()  # a late answer to an earlier poll would shift every frame
        sent_ns = time.time_ns()
        port.write(UM_REQUEST)
        frame = port.read(UM_FRAME_BYTES)
        received_ns = time.time_ns()
        if len(frame) < UM_FRAME_BYTES:
            return None
        decode_um_frame(frame, self.source)  # ValueError when it is not this model's frame
        return Poll(sent_ns, received_ns, frame[:UM_READINGS_BYTES], frame)

    def _take(self, poll: Poll | None) -> None:
        if poll is None:
            self.timeouts += 1
            self._lose()
            return
        self._close_gap(poll.sent_ns)
        previous, self._last = self._last, poll
        if previous is None:  # its refresh is up to an interval old: a baseline, not a sample
            self._stamped_ns = poll.sent_ns  # the latest it can have been
            return
        if poll.readings != previous.readings:
            self._stamp(poll, (previous.sent_ns + poll.sent_ns) // 2, previous)
        else:
            # Equal readings (a steady load) look alike: a refresh is known to have come
            # once a whole interval has passed since the last one.
            due = self._stamped_ns + self.interval_ms * 1_000_000
            if poll.sent_ns > due + (poll.sent_ns - previous.sent_ns) // 2:
                self._stamp(poll, due, previous)

    def _stamp(self, poll: Poll, t_ns: int, previous: Poll) -> None:
        """A new refresh: it came after the previous poll's answer was latched (at its send,
        the meter answering at once) and before this one's, so at their midpoint; the cost
        of that placement is half their gap plus the read time."""
        reading = decode_um_frame(poll.frame, self.source)
        self._stamped_ns = t_ns
        self.stamp_costs_ns.append(
            (poll.sent_ns - previous.sent_ns) // 2 + poll.received_ns - poll.sent_ns
        )
        self._emit(
            {
                "t_ns": t_ns,
                "watts": reading["watts"],
                "volts": reading["volts"],
                "amps": reading["amps"],
                "mwh": reading["mwh"],
            }
        )

    def _lose(self) -> None:
        """A poll without an answer: its readings are lost, the gap recorded."""
        self.lost_polls += 1
        self._lost_in_gap += 1
        if self._lost_since is None:
            self._lost_since = self._last.received_ns if self._last else time.time_ns()

    def _close_gap(self, until_ns: int) -> None:
        if self._lost_since is not None:
            self.gaps.append(
                {"from_ns": self._lost_since, "to_ns": until_ns, "polls": self._lost_in_gap}
            )
            self._lost_since, self._lost_in_gap = None, 0

    def _reopen(self) -> None:
        """The port went away (a Bluetooth link dropped): open it again until it is back."""
        self._close()
        while not self._stopping.wait(UM_RECONNECT_S):
            try:
                self._open()
                return
            except PowerUnavailable:
                continue

    def _close(self) -> None:
        if self._serial is not None:
            self._serial.close()
            self._serial = None


class Um24c(UmMeter):
    name = "um24c"
    description = "RDTech UM24C USB meter over (Bluetooth) serial"
    model_id, volts_unit, amps_unit = 0x0963, 0.01, 0.001


class Um25c(UmMeter):
    name = "um25c"
    description = "RDTech UM25C USB meter over (Bluetooth) serial (finer volt and amp steps)"
    model_id, volts_unit, amps_unit = 0x09C9, 0.001, 0.0001


class Um34c(UmMeter):
    name = "um34c"
    description = "RDTech UM34C USB meter over (Bluetooth) serial"
    model_id, volts_unit, amps_unit = 0x0D4C, 0.01, 0.001


# model -> (model id at offset 0, volts per unit, amps per unit), from the classes above
UM_MODELS = {
    model.name: (model.model_id, model.volts_unit, model.amps_unit)
    for model in UmMeter.__subclasses__()
}
