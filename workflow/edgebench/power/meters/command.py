"""A command meter (`command`): any program (argv list, no shell) printing `time_s,watts`
lines, `time_s` in Unix seconds: how a lab plugs in a meter edgebench does not know."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from collections import deque

from ._base import Meter, PowerUnavailable, _require, _stream_interval_s

# --- Command ---------------------------------------------------------------------------------

STDERR_TAIL_LINES = 20
TERMINATE_GRACE_S = 5


class CommandMeter(Meter):
    """Runs a program (no shell) that prints `time_s,watts` lines, time_s in Unix seconds."""

    name = "command"
    description = "a program (argv list, no shell) printing `time_s,watts` lines"
    kind = "power"
    default_interval_ms = 1000  # how often it prints; the program sets the rate
    interval_note = "How often the program prints (ms): it sets the rate."
    options = {
        "command": {
            "description": "The meter program's argv (a list; no shell).",
            "type": "array",
            "minItems": 1,
            "items": {"type": "string"},
        }
    }
    required = ("command",)

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
