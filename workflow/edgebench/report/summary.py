"""The overview's figures: VIPS score and efficiency per device, the best format per model.

- VIPS score (AIoTBench): for each model, the best format's VIPS (top-1 accuracy x images/s) at
  batch 1 on that device; the device's score is the sum over the models. A model without an
  accuracy figure has no VIPS and adds nothing.
- Efficiency (EDLAB): images/s/W at batch 1, the best format per model; a device's figure is the
  geometric mean over its models, so one fast model does not dominate. Absent without power.
- Unstable runs: a run is one device x workload x format; it is unstable when the CV of one of
  its batch sizes has a robust CV (MAD x 1.4826 / median, the table's `unstable`) above 10%
  (pyperf's threshold). The overview's count and the list under
  Latency distributions are both ``unstable_runs()``, so they cannot disagree.
- CVs made by outliers: the CV (sd / mean) of a run with one stall among hundreds of steady
  samples can reach thousands of percent while the samples agree closely. Such a CV is marked
  when it exceeds the 10% threshold and is more than OUTLIER_RATIO times the CV a normal
  distribution with the same interquartile range would have (IQR / 1.349 / median); the page
  then points to the median, its CI and IQR / median, which outliers do not move.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgebench.metrics.stats import UNSTABLE_CV
from edgebench.metrics.tables import KEYS
from edgebench.report.rows import flags, model_rows, ok_rows

NORMAL_IQR = 1.349  # the interquartile range of a normal distribution, in standard deviations
OUTLIER_RATIO = 3.0


def batch_one(table: pd.DataFrame) -> pd.DataFrame:
    rows = ok_rows(model_rows(table))
    return rows[rows["batch"].eq(1)]


def _best(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """The row with the largest `column` per device x model."""
    rows = rows[rows[column].notna()]
    if rows.empty:
        return rows
    index = rows.groupby(["device", "workload"])[column].idxmax()
    return rows.loc[index]


def _ranked(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    frame = frame.sort_values(column, ascending=False).reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def _formats_used(best: pd.DataFrame) -> pd.Series:
    return best.groupby("device").apply(
        lambda rows: ", ".join(f"{r.workload}: {r.format}" for r in rows.itertuples()),
        include_groups=False,
    )


def vips_scores(table: pd.DataFrame) -> pd.DataFrame:
    """device, vips_score, models, formats (ranked, best first); empty without accuracy."""
    best = _best(batch_one(table), "vips")
    if best.empty:
        return pd.DataFrame(columns=["rank", "device", "vips_score", "models", "formats"])
    scores = best.groupby("device").agg(vips_score=("vips", "sum"), models=("workload", "nunique"))
    scores["formats"] = _formats_used(best)
    return _ranked(scores.reset_index(), "vips_score")


def efficiency_scores(table: pd.DataFrame) -> pd.DataFrame:
    """device, efficiency (geometric mean images/s/W), models; empty without power."""
    best = _best(batch_one(table), "efficiency_ips_per_w")
    best = best[best["efficiency_ips_per_w"] > 0]
    if best.empty:
        return pd.DataFrame(columns=["rank", "device", "efficiency", "models", "formats"])
    scores = best.groupby("device").agg(
        efficiency=("efficiency_ips_per_w", lambda v: float(np.exp(np.log(v).mean()))),
        models=("workload", "nunique"),
    )
    scores["formats"] = _formats_used(best)
    return _ranked(scores.reset_index(), "efficiency")


def best_formats(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and device, the format with the highest VIPS, or throughput without accuracy."""
    rows = batch_one(table)
    if rows.empty:
        return pd.DataFrame()
    by_vips = _best(rows, "vips").assign(criterion="VIPS")
    scored = set(zip(by_vips["device"], by_vips["workload"], strict=True))
    unscored = rows[
        [(d, w) not in scored for d, w in zip(rows["device"], rows["workload"], strict=True)]
    ]
    by_speed = _best(unscored, "throughput_ips").assign(criterion="throughput")
    best = pd.concat([by_vips, by_speed], ignore_index=True)
    return best.sort_values(["workload", "device"]).reset_index(drop=True)


# --- stability ------------------------------------------------------------------------------------

UNSTABLE_COLUMNS = [
    *KEYS,
    "group",
    "unstable_batches",
    "batch",
    "latency_cv",
    "latency_ms_median",
    "latency_ms_iqr",
    "latency_ms_min",
    "latency_ms_max",
    "runs",
]


def unstable_runs(table: pd.DataFrame) -> pd.DataFrame:
    """One row per unstable run (device x workload x format): the batch sizes flagged unstable
    (``unstable_batches``) and the figures of the batch with the largest CV, largest first."""
    if "unstable" not in table.columns:
        return pd.DataFrame(columns=UNSTABLE_COLUMNS)
    rows = table[flags(table["unstable"])]
    if rows.empty:
        return pd.DataFrame(columns=UNSTABLE_COLUMNS)
    batches = rows.groupby(KEYS)["batch"].agg(
        lambda values: ", ".join(str(int(b)) for b in sorted(values))
    )
    worst = rows.sort_values("latency_cv", ascending=False).drop_duplicates(KEYS)
    worst = worst.merge(batches.rename("unstable_batches").reset_index(), on=KEYS)
    return worst.reindex(columns=UNSTABLE_COLUMNS).reset_index(drop=True)


def relative_iqr(iqr, median) -> float:
    """IQR / median: how wide the middle half of the samples is; outliers do not move it."""
    try:
        iqr, median = float(iqr), float(median)
    except (TypeError, ValueError):
        return float("nan")
    return iqr / median if median > 0 else float("nan")


def outlier_dominated(cv, iqr, median) -> bool:
    """True when the CV is above the unstable threshold only because of a few outliers."""
    try:
        cv = float(cv)
    except (TypeError, ValueError):
        return False
    robust = relative_iqr(iqr, median) / NORMAL_IQR
    if np.isnan(cv) or np.isnan(robust):
        return False
    return cv > UNSTABLE_CV and cv > OUTLIER_RATIO * robust
