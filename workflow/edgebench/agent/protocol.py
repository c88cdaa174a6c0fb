"""The timing protocol: load and first inference apart, warm-up, then timed runs.

Warm up for at least `warmup_runs` runs and `warmup_s` seconds; then time at least `min_runs`
runs and `min_s` seconds, stopping at `max_s` seconds or `max_runs` runs, whichever comes
first (the cap keeps raw logs of microsecond-scale blocks to a sane size). Only
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
        return cls(**{k: v for k, v in settings.items() if k in cls.__dataclass_fields__})


@dataclass
class Measurement:
    first_ns: int = 0
    warmup_runs: int = 0
    warmup_ns: int = 0
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)


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
        if end >= deadline_max or runs >= timing.max_runs:
            return result
        if runs >= timing.min_runs and end >= deadline_min:
            return result
