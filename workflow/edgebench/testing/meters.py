"""Power meters played on real pseudo-terminals, for the tests and benchmarks/.

Each emulator holds a pty's master end and answers (or streams) as the real meter does; the host
meter under test opens `.port` (the slave's path) with pyserial, exactly as it opens
/dev/rfcomm0 or /dev/ttyACM0. `command_meter_argv` is a tiny program for the command meter.
"""

from __future__ import annotations

import os
import select
import struct
import sys
import threading
import time
import tty
from collections.abc import Callable

from edgebench.power.meters.um import UM_FRAME_BYTES, UM_MODELS, UM_REQUEST


def encode_um_frame(
    model: str,
    volts: float,
    amps: float,
    watts: float,
    temp_c: int = 25,
    mah: int = 0,
    mwh: int = 0,
) -> bytes:
    """A UM meter's 130-byte answer, big-endian, at the real meter's offsets and scaling."""
    model_id, volts_unit, amps_unit = UM_MODELS[model]
    frame = bytearray(UM_FRAME_BYTES)
    struct.pack_into(
        ">HHHIH",
        frame,
        0,
        model_id,
        round(volts / volts_unit),
        round(amps / amps_unit),
        round(watts * 1000),
        temp_c,
    )
    struct.pack_into(">II", frame, 102, mah, mwh)
    return bytes(frame)


class _PtyDevice:
    """A pseudo-terminal whose master end a thread plays the device on."""

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # bytes pass untouched: no echo, no CR/LF translation
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._write_lock = threading.Lock()
        self.started = time.monotonic()

    def start(self):
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self._master = self._slave = -1

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def write(self, data: bytes) -> None:
        """Send bytes to whoever has the port open; dropped when nobody reads (as a UART does)."""
        with self._write_lock:
            try:
                os.write(self._master, data)
            except BlockingIOError:
                pass

    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def _run(self) -> None:
        raise NotImplementedError


class UmEmulator(_PtyDevice):
    """An RDTech UM meter: refreshes its reading every refresh_s (power(t) at the refresh, t in
    seconds since start), answers each 0xF0 with its latest frame, latched at the request and
    sent after the frame's transfer time at `baud`; accumulated mWh and mAh count up."""

    def __init__(
        self,
        model: str = "um25c",
        refresh_s: float = 0.5,
        power: Callable[[float], float] = lambda t: 2.5,
        volts: float = 5.0,
        baud: int = 9600,
    ) -> None:
        super().__init__()
        self.model = model
        self.refresh_s = refresh_s
        self.power = power
        self.volts = volts
        self.transfer_s = UM_FRAME_BYTES * 10 / baud  # 8 data bits, start and stop bit
        self.readings: list[dict] = []  # every refresh: t_ns (host wall clock), watts
        self.requests = 0
        self.silent = False  # True: requests go unanswered, as from a meter out of range
        self.started_ns = time.time_ns()
        self._joules = 0.0
        self._coulombs = 0.0

    def start(self):
        self.started_ns = time.time_ns()
        return super().start()

    def energy_j(self, start_ns: int, end_ns: int) -> float:
        """The true energy between two host wall-clock times: power(t) integrated finely."""
        steps = 20_000
        seconds = [
            (start_ns - self.started_ns + (end_ns - start_ns) * i / steps) / 1e9
            for i in range(steps + 1)
        ]
        watts = [self.power(t) for t in seconds]
        width = (end_ns - start_ns) / 1e9 / steps
        return width * (sum(watts) - (watts[0] + watts[-1]) / 2)

    def _run(self) -> None:
        while not self._stopping.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                received = os.read(self._master, 256)
            except (BlockingIOError, OSError):
                continue
            for _ in range(received.count(UM_REQUEST)):
                self.requests += 1
                if not self.silent:
                    frame = self._frame()
                    time.sleep(self.transfer_s)
                    self.write(frame)

    def _refresh(self) -> None:
        """Every refresh up to now, each measuring power() at its own instant."""
        due = int(self.elapsed_s() // self.refresh_s)
        while len(self.readings) <= due:
            at_s = len(self.readings) * self.refresh_s
            watts = self.power(at_s)
            if self.readings:
                self._joules += self.readings[-1]["watts"] * self.refresh_s
                self._coulombs += self.readings[-1]["watts"] / self.volts * self.refresh_s
            t_ns = self.started_ns + round(at_s * 1e9)
            self.readings.append({"t_ns": t_ns, "watts": watts})

    def _frame(self) -> bytes:
        self._refresh()
        watts = self.readings[-1]["watts"]
        mwh, mah = round(self._joules / 3.6), round(self._coulombs / 3.6)
        return encode_um_frame(self.model, self.volts, watts / self.volts, watts, mah=mah, mwh=mwh)


class LineMeterEmulator(_PtyDevice):
    """A small board streaming `timestamp_ms,volts,amps` lines stamped on its own clock."""

    def __init__(
        self,
        interval_s: float = 0.01,
        volts: float = 5.0,
        amps: Callable[[float], float] = lambda t: 0.5,
        start_ms: int = 123456,
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.volts = volts
        self.amps = amps
        self.start_ms = start_ms
        self.lines: list[dict] = []  # each line sent: meter_ms, host_ns (wall clock at writing)

    def inject(self, text: str) -> None:
        """Send raw text (e.g. a malformed line) between the readings."""
        self.write(text.encode())

    def _run(self) -> None:
        tick = 0
        while not self._stopping.wait(self.started + tick * self.interval_s - time.monotonic()):
            elapsed = self.elapsed_s()
            meter_ms = self.start_ms + round(elapsed * 1000)
            line = f"{meter_ms},{self.volts:.3f},{self.amps(elapsed):.4f}\r\n"
            self.lines.append({"meter_ms": meter_ms, "host_ns": time.time_ns()})
            self.write(line.encode())
            tick += 1


COMMAND_METER_CODE = """
import sys, time
while True:
    print(f"{{time.time()!r}},{watts!r}", flush=True)
    time.sleep({interval_s!r})
"""


def command_meter_argv(watts: float = 2.5, interval_s: float = 0.05) -> list[str]:
    """A program printing `time_s,watts` lines (Unix seconds) every interval_s until stopped."""
    return [sys.executable, "-c", COMMAND_METER_CODE.format(watts=watts, interval_s=interval_s)]
