"""The overview's figures: VIPS score and efficiency per device, the best format per model.

- VIPS score (AIoTBench): for each model, the best format's VIPS (top-1 accuracy x images/s) at
  batch 1 on that device; the device's score is the sum over the models. A model without an
  accuracy figure has no VIPS and adds nothing.
- Efficiency (EDLAB): images/s/W at batch 1, the best format per model; a device's figure is the
  geometric mean over its models, so one fast model does not dominate. Absent without power.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgebench.report.plots import model_rows, ok_rows


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
