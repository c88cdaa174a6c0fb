"""The timing protocol: load and first inference apart, warm-up, then timed runs.

Warm up for at least `warmup_runs` runs and `warmup_s` seconds; then time at least `min_runs`
runs and `min_s` seconds, and go on until the median's 95% confidence interval is within
+/- `target_ci` of it (adaptive stopping; 0 turns it off), stopping at `max_s` seconds or
`max_runs` runs, whichever comes first (the cap keeps raw logs of microsecond-scale blocks to
a sane size). `stopped_by` says which rule ended the window, so a window cut short by
`max_runs`, or one that reached `max_s` without the target interval, is visible. Only
`runtime.infer()` sits between the two clock reads; every raw sample is kept.

A suite's time budget (`budget_s`, 0: none) bounds the timed windows of one batch size summed
over its `processes`: each process's window stops at its equal share, budget_s / processes,
where that comes before `max_s` (never before `min_s`), with `stopped_by` "budget".

A power window must hold its meter's samples for `min_s` even when `max_runs` ends the timed
window first (a microsecond block): with `hold_min_s` the runtime goes on inferring, untimed
and unrecorded, until `min_s`, and those runs are counted (`held_runs`, `held_ns`) so that the
energy per inference divides the window's energy by every inference inside it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

NS = 1_000_000_000


@dataclass(frozen=True)
class Timing:
    warmup_runs: int = 5
    warmup_s: float = 0.5
    min_runs: int = 20
    min_s: float = 1.0
    max_s: float = 10.0
    max_runs: int = 10_000
    target_ci: float = 0.01  # stop once the median's 95% interval is within +/- this; 0: off
    processes: int = 0  # fresh agent processes per batch size; 0: 3 for models, 1 for blocks
    max_process_spread: float = 1.05  # per-process medians' max/min above this: unstable
    budget_s: float = 0.0  # timed seconds per batch size over all its processes; 0: no budget

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
        if self.max_process_spread < 1:
            found.append(f"max_process_spread ({self.max_process_spread}) is below 1")
        if not 0 <= self.target_ci < 1:
            found.append(f"target_ci ({self.target_ci}) must be a fraction in [0, 1)")
        if self.budget_s < 0:
            found.append(f"budget_s ({self.budget_s}) is negative")
        return found

    def budget_share_s(self) -> float | None:
        """Each process's share of the batch size's budget (None: no budget)."""
        if not self.budget_s:
            return None
        return self.budget_s / max(self.processes, 1)

    def window_cap(self) -> tuple[float, str]:
        """Where a timed window stops at the latest, and the rule that sets it: the budget's
        share where it comes before max_s (never before min_s), else max_s."""
        share = self.budget_share_s()
        if share is not None and share < self.max_s:
            return max(share, self.min_s), "budget"
        return self.max_s, "max_s"


@dataclass
class Measurement:
    first_ns: int = 0
    warmup_runs: int = 0
    warmup_ns: int = 0
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    stopped_by: str = ""  # target_ci | min_reached (target_ci 0) | max_s | budget | max_runs
    held_runs: int = 0  # untimed runs after max_runs that held a power window to min_s
    held_ns: int = 0  # from the last timed run's end to the end of the held runs


def measure(infer, timing: Timing, hold_min_s: bool = False) -> Measurement:
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
    cap_s, capped_by = timing.window_cap()  # max_s, or the budget's share of this process
    next_check = timing.min_runs
    start = clock()  # the window opens with its first run: min_s is the window's own length
    deadline_min = start + int(timing.min_s * NS)
    deadline_max = start + int(cap_s * NS)
    while True:
        infer()
        end = clock()
        starts.append(start)
        ends.append(end)
        runs = len(ends)
        if runs >= next_check and end >= deadline_min:
            if timing.target_ci <= 0:
                result.stopped_by = "min_reached"
                return result
            if relative_ci_halfwidth(starts, ends) <= timing.target_ci:
                result.stopped_by = "target_ci"
                return result
            next_check = runs + max(1, runs // 10)  # geometric: checking costs O(runs)
        if end >= deadline_max:
            result.stopped_by = capped_by
            return result
        if runs >= timing.max_runs:  # before min_s or the target: a shorter window than asked
            result.stopped_by = "max_runs"
            if hold_min_s:
                hold(infer, result, deadline_min)
            return result
        start = clock()


def hold(infer, result: Measurement, deadline_ns: int) -> None:
    """Infer untimed until `deadline_ns` (a power window's min_s), counting the runs."""
    clock = time.monotonic_ns
    last_end = result.ends[-1]
    while clock() < deadline_ns:
        infer()
        result.held_runs += 1
    result.held_ns = clock() - last_end


def relative_ci_halfwidth(starts: list[int], ends: list[int], z: float = 1.96) -> float:
    """Half the width of the median's ~95% distribution-free interval, as a fraction of the
    median (order statistics at n/2 -/+ z*sqrt(n)/2; the host reports the exact binomial one)."""
    n = len(ends)
    if n < 6:
        return math.inf
    durations = np.subtract(ends, starts)
    spread = z * math.sqrt(n) / 2
    low = max(int(math.floor(n / 2 - spread)) - 1, 0)
    high = min(int(math.ceil(n / 2 + spread)), n - 1)
    middle = n // 2
    part = np.partition(durations, [low, middle, high])
    median = part[middle]
    return float(part[high] - part[low]) / 2 / median if median > 0 else math.inf
