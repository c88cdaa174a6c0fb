"""Host meters: read by the host that drives the device, timed on the host's wall clock. Every
module of this package is scanned: a meter is a `Meter` subclass with a `name`, in a module of
its own here (or in a plugin distribution, README Extending), and nothing else lists it.

Every meter has the same shape: `describe()` (the power log header's fields), `check()` (raises
PowerUnavailable saying what is missing and the fix), `start(emit)` (samples in a daemon thread,
`emit({"t_ns", "watts", "volts", "amps"})`), `stop()` (idempotent; every sample emitted by then).

- RDTech UM24C/UM25C/UM34C over Bluetooth serial (um.py): polled with 0xF0, answered with a
  130-byte frame (offsets and scaling from kolinger/rd-usb `interfaces/um.py`).
- A serial line meter (line.py): a small board streaming `timestamp_ms,volts,amps` on its own
  clock, mapped to the host's wall clock at stop().
- A command (command.py): a program printing `time_s,watts` lines, time_s in Unix seconds.
"""

from __future__ import annotations

from ._base import Meter, PowerUnavailable

__all__ = ["Meter", "PowerUnavailable", "open_meter"]


def open_meter(options: dict) -> Meter:
    """The meter a profile's `power:` mapping names (not started; call check() then start())."""
    from edgebench.power import SOURCES

    source = options.get("source")
    meters = SOURCES.host_meters()
    if source not in meters:
        raise ValueError(f"not a host meter: {source!r} (known: {', '.join(meters)})")
    return SOURCES.get(source)(options)
