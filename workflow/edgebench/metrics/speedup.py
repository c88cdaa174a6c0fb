"""Paired speed-ups of an interleaved schedule (README, Interleaved schedule).

The formats of one device and workload timed together in rounds (their raw headers share a
`schedule.group`) are paired round by round: in round r the reference format and this format
ran in fresh processes next to each other, so a slow period of the machine slows both. The
speed-up of a batch size is the median over rounds of

    ratio_r = median(reference's samples in round r) / median(this format's samples in round r)

(> 1: this format is faster), with the distribution-free interval of that median from
`stats.median_confidence_interval`: 95% from 6 rounds, below that the rounds' range at its true
coverage, 1 - 2 / 2**rounds (75% for 3 rounds). Runs of a sequential schedule, or of another
group than the reference's, get no speed-up: their processes were not paired.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgebench.metrics import stats
from edgebench.rawlog import KEYS, RawRun

INTERLEAVED = "interleaved"
SPEEDUP_COLUMNS = [
    "speedup",
    "speedup_ci_low",
    "speedup_ci_high",
    "speedup_ci_level",
    "speedup_reference",
]


def paired_entry(run: RawRun) -> dict | None:
    """What pairing needs of one complete run: its schedule and each ok batch's round
    medians (ns); None for a run that was not interleaved."""
    schedule = run.header.get("schedule") or {}
    if schedule.get("name") != INTERLEAVED or not schedule.get("reference"):
        return None
    ok = {record["batch"] for record in run.batches if record["status"] == "ok"}
    medians = {
        batch: {index: float(np.median(values)) for index, values in per.items() if len(values)}
        for batch, per in (run.processes or {}).items()
        if batch in ok
    }
    return {"key": run.key, "schedule": schedule, "medians": medians}


def round_ratios(reference: dict[int, float], this: dict[int, float]) -> np.ndarray:
    """Reference / this format's median, for every round both timed."""
    rounds = sorted(set(reference) & set(this))
    return np.asarray([reference[r] / this[r] for r in rounds if this[r] > 0], dtype=np.float64)


def speedup_columns(ratios: np.ndarray, reference: str) -> dict:
    low, high, level = stats.median_confidence_interval(ratios)
    return {
        "speedup": float(np.median(ratios)),
        "speedup_ci_low": low,
        "speedup_ci_high": high,
        "speedup_ci_level": level,
        "speedup_reference": reference,
    }


def paired_speedups(entries: list[dict]) -> pd.DataFrame:
    """One row per device x workload x format x batch that has a paired speed-up."""
    by_group = {}
    for entry in entries:
        device, workload, fmt = entry["key"]
        by_group[(device, workload, entry["schedule"]["group"], fmt)] = entry
    rows = []
    for entry in entries:
        device, workload, fmt = entry["key"]
        reference = entry["schedule"]["reference"]
        partner = by_group.get((device, workload, entry["schedule"]["group"], reference))
        if partner is None:  # the reference did not run (or not in this group)
            continue
        for batch, medians in entry["medians"].items():
            ratios = round_ratios(partner["medians"].get(batch, {}), medians)
            if ratios.size:
                row = dict(zip(KEYS, entry["key"], strict=True), batch=batch)
                rows.append({**row, **speedup_columns(ratios, reference)})
    return pd.DataFrame(rows, columns=[*KEYS, "batch", *SPEEDUP_COLUMNS])
