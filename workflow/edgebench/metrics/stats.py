"""Latency statistics of one batch size's raw samples, in milliseconds.

Stability: the CV (std / mean) is kept, but a run is `unstable` when its robust coefficient of
variation, MAD x 1.4826 / median, exceeds 10%: a block with a few scheduler outliers keeps a
small robust CV (its `outlier_share` says why its CV is large), while a drifting run spreads
its bulk and is flagged.

Outliers: one definition for the tables and the report, `outlier_fences`. A sample is an
outlier when it lies outside Tukey's outer fences, Q1 - 3 IQR and Q3 + 3 IQR ("far out" in
Tukey's Exploratory Data Analysis). Latency samples are skewed to the slow side: the inner
fences (1.5 IQR) would mark the ordinary tail of a steady run, thousands of samples of a
microsecond block, where the outer ones isolate the stalls (another process, an interrupt).
The table's `outlier_share` is the fraction of samples outside them; the report's box plots
draw their whiskers to the last sample inside them.

The confidence interval of the median is distribution-free: for sorted samples x(1) <= ... <= x(n),
the interval [x(j), x(n+1-j)] misses the true median only when fewer than j samples lie below it
or fewer than j above it. The number of samples below the median is Binomial(n, 1/2), so the
coverage is exactly 1 - 2 * P(B <= j - 1). We take the largest j whose coverage is still at least
95% (for n = 100: ranks 40 and 61). Below n = 6 no pair of ranks reaches 95%; the interval is then
the full range and `ci_level` holds its smaller true coverage, 1 - 2 / 2**n.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNSTABLE_CV = 0.10  # pyperf's threshold: spread above 10% of the centre
MAD_TO_SD = 1.4826  # MAD x this estimates the standard deviation of a normal distribution
OUTLIER_IQRS = 3.0  # an outlier lies beyond Q1 - 3 IQR or Q3 + 3 IQR (Tukey's outer fences)
MAX_PROCESS_SPREAD = 1.05  # default: per-process medians further apart than 5% are unstable
CI_LEVEL = 0.95
NS_PER_MS = 1_000_000
PERCENTILES = (25, 50, 75, 90, 95, 99)


def median_confidence_interval(
    values: np.ndarray, level: float = CI_LEVEL
) -> tuple[float, float, float]:
    """(low, high, coverage) of the median from order statistics; see the module docstring."""
    ordered = np.sort(values)
    n = len(ordered)
    tail = (1 - level) / 2
    # scipy.special's binomial CDF: scipy.stats's binom is the same function, but importing
    # scipy.stats took 1.2 s of every process that summarizes (scipy.special 0.4 s)
    from scipy.special import bdtr

    # the largest m with P(B <= m) <= tail, B ~ Binomial(n, 1/2)
    below = int(np.searchsorted(bdtr(np.arange(n + 1), n, 0.5), tail, side="right")) - 1
    below = max(below, 0)  # n too small: fall back to the full range
    coverage = 1 - 2 * bdtr(below, n, 0.5)
    return float(ordered[below]), float(ordered[n - 1 - below]), float(coverage)


def outlier_fences(values: np.ndarray) -> tuple[float, float]:
    """(low, high): Tukey's outer fences, Q1 - 3 IQR and Q3 + 3 IQR; a sample outside them is
    an outlier (see the module docstring)."""
    q1, q3 = np.percentile(values, [25, 75])
    return float(q1 - OUTLIER_IQRS * (q3 - q1)), float(q3 + OUTLIER_IQRS * (q3 - q1))


def outliers(values: np.ndarray) -> np.ndarray:
    """Which of `values` are outliers (a boolean mask)."""
    values = np.asarray(values, dtype=np.float64)
    low, high = outlier_fences(values)
    return (values < low) | (values > high)


def process_spread(per_process: list[np.ndarray]) -> float:
    """Max / min of the per-process medians (NaN with fewer than two processes): the drift
    between fresh processes that one process's samples cannot show."""
    medians = [float(np.median(values)) for values in per_process if len(values)]
    if len(medians) < 2 or min(medians) <= 0:
        return float("nan")
    return max(medians) / min(medians)


def spread_limit(timing: dict | None) -> float:
    """The largest per-process spread a run's timing settings accept (`max_process_spread`)."""
    return (timing or {}).get("max_process_spread", MAX_PROCESS_SPREAD)


def summarize(latencies_ns: Sequence[int] | np.ndarray) -> dict:
    """Summary statistics (ms) of raw latencies (ns); `cv` is a fraction, `ci_level` a coverage."""
    ms = np.asarray(latencies_ns, dtype=np.float64) / NS_PER_MS
    if ms.ndim != 1 or ms.size == 0:
        raise ValueError(f"need a non-empty 1-D sequence of latencies, got shape {ms.shape}")
    n = int(ms.size)
    p25, p50, p75, p90, p95, p99 = np.percentile(ms, PERCENTILES)
    mean = float(ms.mean())
    std = float(ms.std(ddof=1)) if n > 1 else float("nan")
    cv = std / mean if mean > 0 else float("nan")
    ci_low, ci_high, ci_level = median_confidence_interval(ms)
    median = float(np.median(ms))
    robust_cv = float(np.median(np.abs(ms - median))) * MAD_TO_SD / median if median else np.nan
    outlier_share = float(np.mean(outliers(ms)))
    unstable = bool(robust_cv > UNSTABLE_CV)
    return {
        "n": n,
        "median": median,
        "mean": mean,
        "std": std,
        "min": float(ms.min()),
        "max": float(ms.max()),
        "p50": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "p99": float(p99),
        "iqr": float(p75 - p25),
        "cv": cv,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "ci_level": ci_level,
        "ci_halfwidth": (ci_high - ci_low) / 2 / median if median else np.nan,
        "robust_cv": robust_cv,
        "outlier_share": outlier_share,
        # decided on the robust spread: a few scheduler outliers inflate the CV (kept above,
        # with the outlier share that explains it) but do not make a run unstable
        "unstable": unstable,
        "unstable_reason": "robust_cv" if unstable else "",
    }
