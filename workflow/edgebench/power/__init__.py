"""Power sources: the samplers a device profile's `power.source` chooses from.

A sampler reads one kind of power source around a run (tegrastats on a Jetson, INA3221 sysfs,
an RDTech USB meter, a generic serial meter) and writes timestamped samples beside the raw log.
Adding one is a module in this folder implementing `PowerSampler` plus one line in SAMPLERS;
until then a profile naming that source is refused when the workflow loads, never ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class PowerSampler(Protocol):
    """Reads one power source while a run is timed."""

    source: str

    def start(self, out: Path) -> None:
        """Begin sampling; samples go to files in `out` (the run's out folder)."""

    def stop(self) -> None:
        """Stop sampling and flush every sample taken."""


# source (an enum value of config/device.schema.yaml) -> its sampler; "none" samples nothing
SAMPLERS: dict[str, type[PowerSampler] | None] = {"none": None}


def check_source(source: str, device: str) -> None:
    """Refuse a power source whose sampler is not built yet (a key that would do nothing)."""
    from edgebench.settings import ConfigError

    if source not in SAMPLERS:
        raise ConfigError(
            f"devices/{device}.yaml: power source {source!r} is not built yet in this edgebench "
            f"version (built: {', '.join(SAMPLERS)}); set `power: {{source: none}}` to run "
            "without power figures (they stay empty and say why)"
        )
