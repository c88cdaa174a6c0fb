"""A meter that reads nothing: a constant power, as a lab might stand in for a bench supply
it reads off by eye (`watts` in the profile). Only edgebench's Meter interface is used."""

from __future__ import annotations

import time

from edgebench.power.meters import Meter


class ConstantWatts(Meter):
    name = "constant-watts"
    description = "a fixed power draw given in the profile (no instrument)"
    kind = "power"
    default_interval_ms = 50
    options = {"watts": {"description": "The power the device draws.", "type": "number"}}
    required = ("watts",)

    def describe(self):
        interval_ms = self.options.get("interval_ms", self.default_interval_ms)
        return {**super().describe(), "interval_s": interval_ms / 1000}

    def check(self):
        pass  # nothing to reach

    def _run(self):  # the sampling thread, until stop()
        interval_s = self.options.get("interval_ms", self.default_interval_ms) / 1000
        due = time.monotonic()
        # on a fixed schedule: a late wake-up on a loaded machine does not delay the next ones
        while not self._stopping.wait(max(0.0, due - time.monotonic())):
            self._emit({"t_ns": time.time_ns(), "watts": float(self.options["watts"])})
            due += interval_s
