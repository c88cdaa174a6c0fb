"""Derived metrics, one formula each (DESIGN.md section 5), used by the table builder and by
`load_results` on raw logs alike. A figure whose inputs are absent stays absent (NaN).

throughput = batch / median latency; achieved FLOPS = throughput x FLOPs; max batch = largest
batch that ran per device x workload x format; accuracy drop = reference top-1 - top-1 (for
a workload scored by AUC, reference AUC - AUC);
VIPS = top-1 x throughput; efficiency = throughput / power; energy per inference (mJ) = energy
integrated over the timed windows / inferences timed in them (runs x batch); active power =
power - idle power.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgebench.rawlog import KEYS


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return frame[name].astype("float64")


def add_derived(frame: pd.DataFrame) -> pd.DataFrame:
    """Add every derived column the frame has the inputs for (NaN where it has not)."""
    latency_s = _column(frame, "latency_ms_median") / 1000
    batch = _column(frame, "batch")
    frame["throughput_ips"] = batch / latency_s
    frame["achieved_flops"] = frame["throughput_ips"] * _column(frame, "flops")
    status = frame["status"] if "status" in frame else pd.Series("ok", index=frame.index)
    ok_batches = batch.where(status.eq("ok"))
    keys = [key for key in KEYS if key in frame]
    frame["max_batch"] = (
        ok_batches.groupby([frame[key] for key in keys]).transform("max")
        if keys
        else ok_batches.max()
    )
    top1 = _column(frame, "accuracy_top1")
    auc_drop = _column(frame, "reference_auc") - _column(frame, "accuracy_auc")  # metric auc
    frame["accuracy_drop"] = (_column(frame, "reference_top1") - top1).where(
        auc_drop.isna(), auc_drop
    )
    if "accuracy_informative" in frame:  # a reference that predicts one class: no clean 0
        frame["accuracy_drop"] = frame["accuracy_drop"].where(
            frame["accuracy_informative"].ne(False)
        )
    frame["vips"] = top1 * frame["throughput_ips"]
    power = _column(frame, "power_w")
    frame["efficiency_ips_per_w"] = frame["throughput_ips"] / power
    inferences = (_column(frame, "runs") + _column(frame, "held_runs").fillna(0)) * batch
    frame["energy_per_inference_mj"] = _column(frame, "power_energy_j") / inferences * 1000
    frame["active_power_w"] = power - _column(frame, "idle_power_w")
    return frame
