"""What every host meter shares: the Meter shape (describe, check, start, stop in a sampling
thread), option and port checks, and the one PowerUnavailable error of every source."""

from __future__ import annotations

import os
import statistics
import threading
from collections.abc import Callable

import serial

from edgebench.agent.power_common import PowerSource, PowerUnavailable  # one error for all

Emit = Callable[[dict], None]
PORT_OPTION = {
    "description": "The meter's serial port on the host, e.g. /dev/rfcomm0.",
    "type": "string",
}
BAUD_OPTION = {"description": "The serial port's baud rate.", "type": "integer", "minimum": 1}


def _require(options: dict, key: str):
    if key not in options:
        raise ValueError(f"power source {options.get('source')!r} needs `{key}`")
    return options[key]


def _stream_interval_s(options: dict, times_ns: list[int]) -> float | None:
    """A streaming meter's interval: the profile's interval_ms, else the samples' median gap."""
    if "interval_ms" in options:
        return options["interval_ms"] / 1000
    gaps = [b - a for a, b in zip(times_ns, times_ns[1:], strict=False)]
    return statistics.median(gaps) / 1e9 if gaps else None


def _check_port(port: str, fix: str) -> None:
    if not os.path.exists(port):
        raise PowerUnavailable(f"serial port {port} does not exist: {fix}")
    if not os.access(port, os.R_OK | os.W_OK):
        raise PowerUnavailable(
            f"serial port {port} is not readable and writable by this user: "
            "add the user to the port's group (often dialout) or fix its permissions"
        )


def _open_port(port: str, baud: int, timeout: float) -> serial.Serial:
    try:
        return serial.Serial(port, baud, timeout=timeout)
    except (serial.SerialException, OSError) as error:
        raise PowerUnavailable(f"cannot open serial port {port}: {error}") from error


class Meter(PowerSource):
    """The shared shape of a meter the host reads: a sampling thread started by start(),
    stopped and joined by stop(); samples on the host's wall clock. On the class, `options`
    declares the options (JSON Schema); on an instance, `self.options` holds the profile's
    values (power_settings: interval_ms, idle_s, min_samples filled in)."""

    on_board = False

    def __init__(self, options: dict) -> None:
        self.options = dict(options)
        self.error: str | None = None
        self._emit: Emit = lambda sample: None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def describe(self) -> dict:
        return {"source": self.source, "clock": "host-wall", "kind": "power"}

    def check(self) -> None:
        raise NotImplementedError

    def start(self, emit: Emit) -> None:
        self._emit = emit
        self._open()
        self._thread = threading.Thread(target=self._run, name=f"meter-{self.source}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None or self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        self._halt()
        self._thread.join()
        self._close()
        self._flush()

    def _open(self) -> None:
        """Acquire the port or process; raise PowerUnavailable when that fails."""

    def _run(self) -> None:
        raise NotImplementedError

    def _halt(self) -> None:
        """Make the sampling thread return (beyond the stopping event)."""

    def _close(self) -> None:
        """Release the port or process."""

    def _flush(self) -> None:
        """Emit samples held back until stop."""
