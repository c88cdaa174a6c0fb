"""Whether two runs' latencies differ, decided as asv decides it: a two-sided Mann-Whitney U test
on the raw samples where their sizes allow p < 0.002, else non-overlapping 99% intervals of the
medians; without samples, the table's 95% intervals. And the latency verdict built on it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edgebench.metrics.stats import median_confidence_interval

FACTOR = 1.10  # asv compare's default: a change smaller than 10% is never reported
P_THRESHOLD = 0.002  # asv's threshold for the Mann-Whitney U test
INTERVAL_LEVEL = 0.99  # asv's fallback: non-overlapping 99% intervals of the median

SLOWER, FASTER, SAME = "slower", "faster", "no significant change"
MANN_WHITNEY = "mann-whitney"
SAMPLE_INTERVALS = f"{INTERVAL_LEVEL:.0%} intervals"
TABLE_INTERVALS = "95% intervals (table)"


@dataclass
class Difference:
    """Whether two sets of latencies differ significantly, and which test said so."""

    different: bool
    test: str
    p_value: float | None = None


def min_p_value(n: int, m: int) -> float:
    """The smallest two-sided p-value the exact U test can give for sample sizes n and m."""
    if n == 0 or m == 0:
        return 1.0
    return min(1.0, 2 / math.comb(n + m, min(n, m)))


def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the Mann-Whitney U test (scipy: exact for small samples without
    ties, else the normal approximation with tie and continuity correction)."""
    from scipy.stats import mannwhitneyu

    with np.errstate(all="ignore"):
        p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p  # every value tied: no evidence of a difference


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] >= b[0] and a[0] <= b[1]


def is_different(
    old: np.ndarray | None,
    new: np.ndarray | None,
    old_interval: tuple[float, float] | None = None,
    new_interval: tuple[float, float] | None = None,
    p_threshold: float = P_THRESHOLD,
) -> Difference:
    """asv's ``is_different``: the U test where the samples allow p < p_threshold, else
    whether the medians' 99% intervals (from the samples) are disjoint; without samples, whether
    the given intervals are disjoint. Without either, no difference can be shown."""
    if old is not None and new is not None and len(old) and len(new):
        old, new = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
        if min_p_value(len(old), len(new)) < p_threshold:
            p = mann_whitney_p(old, new)
            return Difference(p < p_threshold, MANN_WHITNEY, p)
        intervals = [median_confidence_interval(x, INTERVAL_LEVEL)[:2] for x in (old, new)]
        return Difference(not overlap(*intervals), SAMPLE_INTERVALS)
    if old_interval is None or new_interval is None:
        return Difference(False, "none (no samples or intervals)")
    if any(pd.isna(value) for value in (*old_interval, *new_interval)):
        return Difference(False, "none (no samples or intervals)")
    return Difference(not overlap(old_interval, new_interval), TABLE_INTERVALS)


def latency_verdict(ratio: float, difference: Difference, factor: float = FACTOR) -> str:
    """slower / faster when significant and beyond the factor (ratio = new / old median)."""
    if not difference.different or not np.isfinite(ratio):
        return SAME
    if ratio > factor:
        return SLOWER
    if ratio < 1 / factor:
        return FASTER
    return SAME
