"""On-board power sources: read by the agent on the device, one module each (tegrastats, the
INA3221 monitors in sysfs, Intel RAPL). Every module of this package is scanned: a source is a
`PowerSource` subclass with a `name`, in a module of its own here, standard library only, and
nothing else lists it (README, Extending). A plugin distribution's on-board source (entry-point
group `edgebench.power_sources`, `on_board = True`) ships to the board with the agent, as a
runtime plugin does (agent/registry.py).

Each source samples in a daemon thread and hands every sample to `emit`, timestamped on this
device's monotonic clock when read (record layout in powerlog.py). Facts about the boards:
DESIGN.md section 7.
"""

from __future__ import annotations

from ..power_common import PowerSource, PowerSourceRegistry, PowerUnavailable, SourceMissing

# The agent's view: the on-board sources of this package (on the device the package is
# edgebench_agent.power_sources; the host's registry, edgebench.power.SOURCES, adds its meters).
ON_BOARD = PowerSourceRegistry([__name__], on_board_only=True)

__all__ = ["ON_BOARD", "PowerSource", "PowerUnavailable", "SourceMissing", "open_source"]


def open_source(options: dict) -> PowerSource:
    """The on-board source the profile's `power:` mapping names."""
    name = options.get("source")
    if name not in ON_BOARD.entries():
        raise PowerUnavailable(
            f"power source {name!r} is not read on the device (on-board sources: "
            f"{', '.join(ON_BOARD.names())}): a host meter's samples are read by the host"
        )
    return ON_BOARD.get(name)(options)
