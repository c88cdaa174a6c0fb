"""Latency statistics on samples whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from edgebench.metrics.stats import UNSTABLE_CV, median_confidence_interval, summarize
from scipy.stats import binom

MS = 1_000_000


def test_one_to_hundred_ms_matches_numpy():
    samples_ns = np.arange(1, 101) * MS
    summary = summarize(samples_ns)
    ms = np.arange(1, 101, dtype=float)
    assert summary["n"] == 100
    assert summary["median"] == summary["p50"] == 50.5
    assert summary["mean"] == pytest.approx(50.5)
    assert summary["std"] == pytest.approx(np.std(ms, ddof=1))
    assert (summary["min"], summary["max"]) == (1.0, 100.0)
    for q in (90, 95, 99):
        assert summary[f"p{q}"] == pytest.approx(np.percentile(ms, q))
    assert summary["iqr"] == pytest.approx(np.percentile(ms, 75) - np.percentile(ms, 25))


def test_accepts_plain_integer_sequences():
    assert summarize([2 * MS, 4 * MS, 6 * MS])["median"] == 4.0


def test_cv_of_a_constant_plus_spread_sample():
    samples_ns = np.array([9, 11] * 50) * MS  # mean 10 ms, sample std just over 1 ms
    summary = summarize(samples_ns)
    expected_std = np.std([9.0, 11.0] * 50, ddof=1)
    assert summary["cv"] == pytest.approx(expected_std / 10)
    assert summary["cv"] > UNSTABLE_CV  # 0.1005: just over pyperf's threshold
    assert summary["unstable"] is True


def test_unstable_flag_both_ways():
    steady = summarize(np.full(50, 10 * MS) + np.arange(50) * 1000)
    jittery = summarize(np.array([5, 15] * 25) * MS)
    assert steady["cv"] < UNSTABLE_CV and steady["unstable"] is False
    assert jittery["cv"] > UNSTABLE_CV and jittery["unstable"] is True


def test_median_ci_ranks_for_n_100():
    values = np.arange(1, 101, dtype=float)  # value == 1-based rank
    low, high, coverage = median_confidence_interval(np.random.default_rng(0).permutation(values))
    assert (low, high) == (40.0, 61.0)
    assert coverage == pytest.approx(binom.cdf(60, 100, 0.5) - binom.cdf(39, 100, 0.5))
    assert coverage >= 0.95
    # one rank narrower no longer reaches 95%
    assert binom.cdf(59, 100, 0.5) - binom.cdf(40, 100, 0.5) < 0.95


@pytest.mark.parametrize("n", [1, 3, 5, 6, 7, 20, 101, 1000, 54321])
def test_median_ci_ranks_are_scipy_stats_binomial_ones(n):
    """The widest ranks with at least 95% coverage, as scipy.stats.binom gives them."""
    below = int(binom.ppf(0.025, n, 0.5))
    if binom.cdf(below, n, 0.5) > 0.025:
        below -= 1
    below = max(below, 0)
    low, high, coverage = median_confidence_interval(np.arange(n, dtype=float))
    assert (low, high) == (float(below), float(n - 1 - below))
    assert coverage == pytest.approx(1 - 2 * binom.cdf(below, n, 0.5), rel=1e-9)


def test_summary_ci_contains_the_median():
    samples_ns = np.random.default_rng(1).lognormal(0, 0.3, 500) * 5 * MS
    summary = summarize(samples_ns)
    assert summary["ci_low"] <= summary["median"] <= summary["ci_high"]
    assert summary["ci_level"] >= 0.95


def test_too_few_samples_give_full_range_and_true_coverage():
    summary = summarize(np.array([3, 1, 2, 5, 4]) * MS)
    assert (summary["ci_low"], summary["ci_high"]) == (1.0, 5.0)
    assert summary["ci_level"] == pytest.approx(1 - 2 / 2**5)
    assert summary["ci_level"] < 0.95
    assert summarize(np.arange(6) * MS)["ci_level"] >= 0.95


def test_single_sample_has_no_spread():
    summary = summarize([7 * MS])
    assert summary["median"] == 7.0
    assert np.isnan(summary["std"]) and summary["unstable"] is False


def test_empty_input_raises():
    with pytest.raises(ValueError):
        summarize([])


def test_a_few_outliers_do_not_make_a_run_unstable_but_a_drift_does():
    rng = np.random.default_rng(3)
    steady = rng.normal(1_000_000, 10_000, 2_000)  # 1 ms, 1% spread
    spiky = steady.copy()
    spiky[::100] = 80_000_000  # 1% of runs hit by 80 ms scheduler stalls
    spiky_stats = summarize(spiky)
    assert spiky_stats["cv"] > 0.10  # the CV is dominated by the stalls ...
    assert not spiky_stats["unstable"] and spiky_stats["unstable_reason"] == ""
    assert spiky_stats["outlier_share"] == pytest.approx(0.01)  # ... and says why
    drifting = np.linspace(1_000_000, 2_000_000, 2_000)  # the bulk itself moves
    drift_stats = summarize(drifting)
    assert drift_stats["unstable"] and drift_stats["unstable_reason"] == "robust_cv"
    assert drift_stats["robust_cv"] > 0.10


def test_the_confidence_halfwidth_is_relative_to_the_median():
    values = np.arange(1, 101) * 1_000_000  # 1..100 ms
    stats = summarize(values)
    assert stats["ci_halfwidth"] == pytest.approx(
        (stats["ci_high"] - stats["ci_low"]) / 2 / stats["median"]
    )


def test_one_outlier_definition_for_the_tables_and_the_report():
    """Tukey's outer fences (Q1 - 3 IQR, Q3 + 3 IQR): the table's outlier share and the report's
    box whiskers are one rule (edgebench.metrics.stats.outlier_fences)."""
    from edgebench.metrics.stats import OUTLIER_IQRS, outlier_fences
    from edgebench.report.data import box_statistics

    ms = np.concatenate([np.linspace(1.0, 2.0, 97), [0.5, 3.0, 6.0]])  # IQR about 0.52
    low, high = outlier_fences(ms)
    q1, q3 = np.percentile(ms, [25, 75])
    assert OUTLIER_IQRS == 3.0 and (low, high) == (q1 - 3 * (q3 - q1), q3 + 3 * (q3 - q1))
    # 3.0 lies beyond the inner fence (1.5 IQR) but inside the outer one; 6.0 is an outlier
    assert (ms < low).sum() == 0 and (ms > high).sum() == 1
    box = box_statistics(ms * MS)
    assert box["outliers"] == 1 and box["upperfence"] == 3.0 and box["lowerfence"] == 0.5
    assert summarize(ms * MS)["outlier_share"] == pytest.approx(box["outliers"] / len(ms))
