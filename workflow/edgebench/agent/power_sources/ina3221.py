"""The INA3221 power monitors of a Jetson through sysfs: JetPack 4 iio and JetPack 5/6 hwmon
layouts, polled (DESIGN.md section 7)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..power_common import (
    NO_TOTAL_RAIL,
    ROOT_OPTION,
    Poller,
    PowerSource,
    PowerUnavailable,
    power_sample,
    read_number,
    timed,
    total_rails,
    unconnected,
)
from .tegrastats import RAILS_OPTION

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


class Ina3221(PowerSource):
    """The INA3221 power monitors of a Jetson, polled through sysfs."""

    name = "ina3221"
    description = "a Jetson's INA3221 power monitors read through sysfs"
    on_board = True
    kind = "power"
    default_interval_ms = 20
    options = {"rails": RAILS_OPTION, "root": ROOT_OPTION}

    def __init__(self, options: dict):
        self.interval_ms = options.get("interval_ms", self.default("interval_ms"))
        self.chosen = options.get("rails")
        self.root = Path(options.get("root", self.default("root")))
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
