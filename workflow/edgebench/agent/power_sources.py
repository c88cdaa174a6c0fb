"""On-board power sources: tegrastats, the INA3221 monitors in sysfs, and Intel RAPL.

Each source samples in a daemon thread and hands every sample to `emit`, timestamped on this
device's monotonic clock when read (record layout in powerlog.py). Facts about the boards:
DESIGN.md section 7.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from .power_common import (
    NO_TOTAL_RAIL,
    TOTAL_RULE,
    Poller,
    PowerUnavailable,
    SourceMissing,
    power_sample,
    read_number,
    timed,
    total_rails,
    unconnected,
)
from .power_rapl import Rapl

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


class Tegrastats:
    """`tegrastats --interval MS` on a Jetson, read line by line from its stdout."""

    source = "tegrastats"

    def __init__(self, options: dict):
        self.interval_ms = options.get("interval_ms", 100)
        self.chosen = options.get("rails")
        command = options.get("command", "tegrastats")
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


# --- INA3221 through sysfs -------------------------------------------------------------------


@dataclass
class Channel:
    """One INA3221 channel: its power file (mW, JetPack 4 iio) or voltage (mV) and current
    (mA) files (JetPack 5/6 hwmon)."""

    name: str
    files: tuple[Path, ...]

    def watts(self) -> float:
        values = [read_number(path) for path in self.files]
        if len(values) == 1:
            return values[0] / 1e3
        return values[0] * values[1] / 1e6


def channel_number(path: Path, pattern: str) -> str | None:
    match = re.fullmatch(pattern, path.name)
    return match.group(1) if match else None


def iio_channels(root: Path) -> list[Channel]:
    """JetPack 4: .../ina3221x/*/iio:device*/rail_name_N and in_powerN_input (mW)."""
    channels = []
    for label in sorted(root.glob("bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_*")):
        number = channel_number(label, r"rail_name_(\d+)")
        if number is not None:
            power = label.with_name(f"in_power{number}_input")
            channels.append(Channel(label.read_text().strip(), (power,)))
    return channels


def hwmon_channels(root: Path) -> list[Channel]:
    """JetPack 5/6: .../ina3221/*/hwmon/hwmon*/inN_label, inN_input (mV), currN_input (mA)."""
    channels = []
    for label in sorted(root.glob("bus/i2c/drivers/ina3221/*/hwmon/hwmon*/in*_label")):
        number = channel_number(label, r"in(\d+)_label")
        name = label.read_text().strip()
        if number is None or name.lower().startswith("sum of shunt"):
            continue
        files = (label.with_name(f"in{number}_input"), label.with_name(f"curr{number}_input"))
        channels.append(Channel(name, files))
    return channels


def connected(channels: list[Channel]) -> list[Channel]:
    """NC rails dropped; a name repeated across monitors gets its i2c device appended."""
    kept, seen = [], set()
    for channel in channels:
        if unconnected(channel.name):
            continue
        if channel.name in seen:
            device = channel.files[0].parent.parent.name
            device = channel.files[0].parents[2].name if device == "hwmon" else device
            channel = Channel(f"{channel.name}@{device}", channel.files)
        seen.add(channel.name)
        kept.append(channel)
    return kept


class Ina3221:
    """The INA3221 power monitors of a Jetson, polled through sysfs."""

    source = "ina3221"

    def __init__(self, options: dict):
        self.interval_ms = options.get("interval_ms", 20)
        self.chosen = options.get("rails")
        self.root = Path(options.get("root", "/sys"))
        self.channels = None
        self.layout = None
        self.poller = None
        self.error = None

    def find_channels(self) -> list[Channel]:
        if self.channels is None:
            for layout, find in (("hwmon", hwmon_channels), ("iio", iio_channels)):
                channels = connected(find(self.root))
                if channels:
                    self.layout, self.channels = layout, channels
                    break
            else:
                self.channels = []
        return self.channels

    def describe(self) -> dict:
        names = [channel.name for channel in self.find_channels()]
        return {
            "source": self.source,
            "clock": "device-monotonic",
            "kind": "power",
            "interval_s": self.interval_ms / 1000,
            "rails": names,
            "total": total_rails(names, self.chosen) or NO_TOTAL_RAIL,
            "layout": self.layout,
        }

    def check(self) -> None:
        channels = self.find_channels()
        if not channels:
            raise PowerUnavailable(
                f"no INA3221 power monitor under {self.root}/bus/i2c/drivers/ina3221 (JetPack 5/6) "
                f"or {self.root}/bus/i2c/drivers/ina3221x (JetPack 4): use tegrastats or an "
                "external meter on this board"
            )
        for channel in channels:
            try:
                channel.watts()
            except OSError as error:
                raise PowerUnavailable(
                    f"cannot read the INA3221 rail {channel.name} ({error}): "
                    "run the agent as a user who can read these sysfs files"
                ) from error

    def read_once(self) -> dict:
        t_ns, (rails, failure) = timed(self._read_rails)
        if failure:
            return {"t_ns": t_ns, "watts": None, "rails": rails, "reason": failure}
        return power_sample(t_ns, rails, self.chosen)

    def _read_rails(self) -> tuple[dict[str, float], str]:
        rails, failures = {}, []
        for channel in self.find_channels():
            try:
                rails[channel.name] = channel.watts()
            except (OSError, ValueError) as error:
                failures.append(f"reading rail {channel.name} failed: {error}")
        return rails, "; ".join(failures)

    def start(self, emit) -> None:
        self.poller = Poller(self.read_once, self.interval_ms / 1000, "ina3221")
        self.poller.start(emit)

    def stop(self) -> None:
        if self.poller is not None:
            self.poller.stop()


# --- choosing a source -----------------------------------------------------------------------

SOURCES: dict[str, type] = {"tegrastats": Tegrastats, "ina3221": Ina3221, "rapl": Rapl}


def open_source(options: dict):
    """The on-board source the profile's `power:` mapping names."""
    name = options.get("source")
    if name not in SOURCES:
        raise PowerUnavailable(
            f"power source {name!r} is not read on the device (on-board sources: "
            f"{', '.join(SOURCES)}): a host meter's samples are read by the host"
        )
    return SOURCES[name](options)
