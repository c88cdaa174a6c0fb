"""The timing protocol: load and first inference apart, warm-up, then timed runs.

Warm up for at least `warmup_runs` runs and `warmup_s` seconds; then time at least `min_runs`
runs and `min_s` seconds, stopping at `max_s` seconds or `max_runs` runs, whichever comes
first (the cap keeps raw logs of microsecond-scale blocks to a sane size; `stopped_by` says
which limit ended the window, so a window cut short by `max_runs` is visible). Only
`runtime.infer()` sits between the two clock reads; every raw sample is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

NS = 1_000_000_000


@dataclass(frozen=True)
class Timing:
    warmup_runs: int = 5
    warmup_s: float = 0.5
    min_runs: int = 20
    min_s: float = 1.0
    max_s: float = 10.0
    max_runs: int = 10_000

    @classmethod
    def from_dict(cls, settings: dict) -> Timing:
        unknown = sorted(set(settings) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"unknown timing key(s) {unknown}; valid: {', '.join(cls.__dataclass_fields__)}"
            )
        return cls(**settings)

    def problems(self) -> list[str]:
        """Settings that contradict each other (each range is checked by the schemas)."""
        found = []
        if self.min_s > self.max_s:
            found.append(f"min_s ({self.min_s}) is larger than max_s ({self.max_s})")
        if self.min_runs > self.max_runs:
            found.append(f"min_runs ({self.min_runs}) is larger than max_runs ({self.max_runs})")
        return found


@dataclass
class Measurement:
    first_ns: int = 0
    warmup_runs: int = 0
    warmup_ns: int = 0
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    stopped_by: str = ""  # min_reached | max_s | max_runs


def measure(infer, timing: Timing) -> Measurement:
    clock = time.monotonic_ns
    result = Measurement()
    started = clock()
    infer()
    result.first_ns = clock() - started

    warmup_started = clock()
    while (
        result.warmup_runs < timing.warmup_runs or clock() - warmup_started < timing.warmup_s * NS
    ):
        infer()
        result.warmup_runs += 1
    result.warmup_ns = clock() - warmup_started

    starts, ends = result.starts, result.ends
    deadline_min = clock() + int(timing.min_s * NS)
    deadline_max = clock() + int(timing.max_s * NS)
    while True:
        start = clock()
        infer()
        end = clock()
        starts.append(start)
        ends.append(end)
        runs = len(ends)
        if runs >= timing.min_runs and end >= deadline_min:
            result.stopped_by = "min_reached"
            return result
        if end >= deadline_max:
            result.stopped_by = "max_s"
            return result
        if runs >= timing.max_runs:  # before min_s: the window is shorter than asked for
            result.stopped_by = "max_runs"
            return result
