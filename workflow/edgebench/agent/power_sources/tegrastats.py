"""tegrastats on a Jetson: `tegrastats --interval MS`, started by the agent around the run and
read line by line; the instantaneous value of each rail (DESIGN.md section 7)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from itertools import pairwise

from ..power_common import (
    TOTAL_RULE,
    PowerSource,
    SourceMissing,
    power_sample,
    unconnected,
)

# --- tegrastats ------------------------------------------------------------------------------

RAIL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
RAIL_VALUE = re.compile(r"(\d+)(?:mW)?/(\d+)(?:mW)?")  # instantaneous/average, mW


def parse_tegrastats(line: str) -> dict[str, float]:
    """{rail: watts} from one tegrastats line, the instantaneous (first) value of each
    `NAME cur/avg` pair; anything else on the line (RAM 2448/7620MB, GR3D_FREQ 0%@76,
    cpu@47.5C, APE 25) is not a rail, nor is a truncated last token."""
    tokens = line.split()
    rails = {}
    for name, value in pairwise(tokens):
        match = RAIL_VALUE.fullmatch(value)
        if match and RAIL_NAME.fullmatch(name) and not unconnected(name):
            rails[name] = int(match.group(1)) / 1000
    return rails


RAILS_OPTION = {
    "description": "Rails summed for the total input power (default: the board's total rail).",
    "type": "array",
    "minItems": 1,
    "items": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
}


class Tegrastats(PowerSource):
    """`tegrastats --interval MS` on a Jetson, read line by line from its stdout."""

    name = "tegrastats"
    description = "NVIDIA's tegrastats on a Jetson, started by the agent around the run"
    on_board = True
    kind = "power"
    default_interval_ms = 100
    options = {
        "rails": RAILS_OPTION,
        "command": {
            "description": "tegrastats' name on PATH or its path (or an argv list).",
            "oneOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "items": {"type": "string"}},
            ],
            "default": "tegrastats",
        },
    }

    def __init__(self, options: dict):
        self.interval_ms = options.get("interval_ms", self.default("interval_ms"))
        self.chosen = options.get("rails")
        command = options.get("command", self.default("command"))
        self.command = [command] if isinstance(command, str) else list(command)
        self.process = None
        self.thread = None
        self.stopped = False
        self.error = None

    def describe(self) -> dict:
        return {
            "source": self.source,
            "clock": "device-monotonic",
            "kind": "power",
            "interval_s": self.interval_ms / 1000,
            "rails": list(self.chosen or []),
            "total": list(self.chosen) if self.chosen else TOTAL_RULE,
            "command": self.command + ["--interval", self._interval_arg()],
        }

    def _interval_arg(self) -> str:
        return str(max(1, round(self.interval_ms)))

    def check(self) -> None:
        found = shutil.which(self.command[0])
        if found is None:
            raise SourceMissing(
                f"{self.command[0]} is not on PATH: install it (it ships with JetPack, "
                "/usr/bin/tegrastats) or give its path in the profile's power.command"
            )
        self.command[0] = found

    def start(self, emit) -> None:
        # stderr to a file, not a pipe: a pipe nobody drains would block tegrastats
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            self.command + ["--interval", self._interval_arg()],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.thread = threading.Thread(
            target=self._read_lines, args=(emit,), name="tegrastats", daemon=True
        )
        self.thread.start()

    def _read_lines(self, emit) -> None:
        for line in self.process.stdout:
            t_ns = time.monotonic_ns()
            if line.strip():
                emit(self.sample(t_ns, line))
        if not self.stopped:
            self.error = self._exit_reason()

    def sample(self, t_ns: int, line: str) -> dict:
        rails = parse_tegrastats(line)
        if not rails:
            return {"t_ns": t_ns, "watts": None, "rails": {}, "reason": "no power rails in a line"}
        return power_sample(t_ns, rails, self.chosen)

    def _exit_reason(self) -> str:
        status = self.process.wait()
        self.stderr.seek(0)
        said = " ".join(self.stderr.read().split())[-300:]
        return f"tegrastats exited (status {status}) before it was stopped: {said or 'no message'}"

    def stop(self) -> None:
        if self.process is None or self.stopped:
            return
        self.stopped = True
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.thread.join()
        self.process.stdout.close()
        self.stderr.close()
