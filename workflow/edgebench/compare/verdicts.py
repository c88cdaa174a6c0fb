"""The comparison itself: rows matched by device, workload, format and batch; for each pair the
latency ratio and verdict, the accuracy and power verdicts, and notes on what differs between
the two runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edgebench.compare.inputs import KEYS, Results, load
from edgebench.compare.significance import (
    FACTOR,
    FASTER,
    SAME,
    SLOWER,
    TABLE_INTERVALS,
    is_different,
    latency_verdict,
)

ACCURACY_TOLERANCE = 0.01  # absolute top-1
POWER_FACTOR = 1.10
NS_PER_MS = 1_000_000
# Facts from the raw log's header compared between the two runs (docs/raw-format.md).
HEADER_FACTS = ["hostname", "cpu_model", "board", "kernel", "l4t_release", "governor", "os"]
TABLE_FACTS = ["hostname", "cpu_model"]  # what the table keeps of them


def _value(row: pd.Series, column: str):
    value = row.get(column) if row is not None else None
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _flag(value) -> bool:
    return value is True or value == np.True_ or str(value) == "True"


def _samples_ms(results: Results, key: tuple, batch) -> np.ndarray | None:
    if batch is None:
        return None
    run = results.run(key)
    if run is None or int(batch) not in run.samples:
        return None
    samples = run.samples[int(batch)]
    return samples / NS_PER_MS if len(samples) else None


def _facts(results: Results, key: tuple, row: pd.Series) -> dict[str, str]:
    """What each side knows of the device, runtime and model: the raw header, else the table."""
    run = results.run(key) if results.raw_paths else None
    if run is not None:
        header = run.header
        facts = {name: (header.get("facts") or {}).get(name) for name in HEADER_FACTS}
        runtime = header.get("runtime") or {}
        if runtime.get("name") or runtime.get("version"):
            facts["runtime"] = f"{runtime.get('name') or '?'} {runtime.get('version') or '?'}"
        facts["threads"] = header.get("threads")
        facts["model"] = (header.get("model") or {}).get("sha256")
    else:
        facts = {name: _value(row, name) for name in TABLE_FACTS}
        name, version = _value(row, "runtime_name"), _value(row, "runtime_version")
        if name or version:
            facts["runtime"] = f"{name or '?'} {version or '?'}"
        facts["threads"] = _value(row, "threads")
    return {name: _text(value) for name, value in facts.items() if value is not None}


def _text(value) -> str:
    """A fact as text; 4.0 (a CSV's integer column with gaps) reads as 4, as in the header."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _fact_notes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    notes = []
    for name in old:
        if name in new and old[name] != new[name]:
            if name == "model":
                notes.append(f"model file differs (sha256 {old[name][:12]} -> {new[name][:12]})")
            else:
                notes.append(f"{name} differs ({old[name]} -> {new[name]})")
    return notes


def _compare_latency(old: Results, new: Results, key, batch, old_row, new_row, factor) -> dict:
    old_samples, new_samples = _samples_ms(old, key, batch), _samples_ms(new, key, batch)
    if old_samples is not None and new_samples is not None:
        old_median, new_median = float(np.median(old_samples)), float(np.median(new_samples))
        difference = is_different(old_samples, new_samples)
    else:
        old_median = _value(old_row, "latency_ms_median")
        new_median = _value(new_row, "latency_ms_median")
        intervals = [
            (_value(row, "latency_ms_ci_low"), _value(row, "latency_ms_ci_high"))
            for row in (old_row, new_row)
        ]
        intervals = [None if None in interval else interval for interval in intervals]
        difference = is_different(None, None, *intervals)
    ratio = new_median / old_median if old_median and new_median is not None else float("nan")
    return {
        "old_median_ms": old_median,
        "new_median_ms": new_median,
        "ratio": ratio,
        "old_runs": None if old_samples is None else len(old_samples),
        "new_runs": None if new_samples is None else len(new_samples),
        "test": difference.test,
        "p_value": difference.p_value,
        "verdict": latency_verdict(ratio, difference, factor),
    }


def _compare_accuracy(old_row, new_row, tolerance: float) -> dict:
    old_top1, new_top1 = _value(old_row, "accuracy_top1"), _value(new_row, "accuracy_top1")
    if old_top1 is None or new_top1 is None:
        return {"old_top1": old_top1, "new_top1": new_top1, "accuracy_change": None}
    change = float(new_top1) - float(old_top1)
    if change < -tolerance - 1e-9:  # the tolerance itself is allowed, despite float rounding
        verdict = "dropped"
    elif change > tolerance + 1e-9:
        verdict = "improved"
    else:
        verdict = "same"
    return {
        "old_top1": float(old_top1),
        "new_top1": float(new_top1),
        "accuracy_change": change,
        "accuracy": verdict,
    }


def _compare_power(old_row, new_row, power_factor: float) -> dict:
    old_w, new_w = _value(old_row, "power_w"), _value(new_row, "power_w")
    if old_w is None or new_w is None or not old_w:
        return {"old_power_w": old_w, "new_power_w": new_w}
    ratio = float(new_w) / float(old_w)
    verdict = "higher" if ratio > power_factor else "lower" if ratio < 1 / power_factor else "same"
    return {
        "old_power_w": float(old_w),
        "new_power_w": float(new_w),
        "power_ratio": ratio,
        "power": verdict,
    }


def _compare_speedup(old_row, new_row) -> tuple[dict, list[str]]:
    """The paired speed-ups (schedule interleaved) of both sides, shown beside the verdict,
    which they do not change: each is measured within its own run against its reference."""
    old_speedup, new_speedup = _value(old_row, "speedup"), _value(new_row, "speedup")
    old_ref, new_ref = _value(old_row, "speedup_reference"), _value(new_row, "speedup_reference")
    notes = []
    if old_ref and new_ref and old_ref != new_ref:
        notes.append(f"speed-up reference differs ({old_ref} -> {new_ref})")
    out = {"old_speedup": old_speedup, "new_speedup": new_speedup}
    return out | {"speedup_reference": new_ref or old_ref}, notes


def _compare_row(
    old: Results,
    new: Results,
    key: tuple,
    old_row: pd.Series | None,
    new_row: pd.Series | None,
    settings: dict,
) -> dict:
    run_id, batch = key[:3], key[3]
    old_status, new_status = _value(old_row, "status"), _value(new_row, "status")
    out = dict(zip(KEYS, key, strict=True))
    out |= {"old_status": old_status, "new_status": new_status}
    notes, regressed = [], False
    if old_row is None or new_row is None:
        out["verdict"] = "only in old" if new_row is None else "only in new"
    elif old_status == "ok" and new_status == "ok":
        out |= _compare_latency(old, new, run_id, batch, old_row, new_row, settings["factor"])
        out |= _compare_accuracy(old_row, new_row, settings["accuracy_tolerance"])
        out |= _compare_power(old_row, new_row, settings["power_factor"])
        speedups, speedup_notes = _compare_speedup(old_row, new_row)
        out |= speedups
        notes += speedup_notes
        regressed = (
            out["verdict"] == SLOWER
            or out.get("accuracy") == "dropped"
            or out.get("power") == "higher"
        )
        if out.get("test") == TABLE_INTERVALS:
            notes.append("no raw samples: the table's 95% intervals decided")
        for side, row in (("old", old_row), ("new", new_row)):
            if _flag(row.get("unstable")):
                notes.append(f"{side} run unstable")
        old_n, new_n = _value(old_row, "accuracy_samples"), _value(new_row, "accuracy_samples")
        if old_n is not None and new_n is not None and int(old_n) != int(new_n):
            notes.append(f"accuracy scored on {int(old_n)} -> {int(new_n)} samples")
    elif old_status == "ok":
        out["verdict"] = f"now {new_status}"
        notes.append(str(_value(new_row, "reason") or ""))
        regressed = True
    elif new_status == "ok":
        out["verdict"] = "now ok"
    else:
        same = old_status == new_status
        out["verdict"] = f"{old_status} in both" if same else f"{old_status} -> {new_status}"
    if old_row is not None and new_row is not None:
        old_facts, new_facts = _facts(old, run_id, old_row), _facts(new, run_id, new_row)
        notes = _fact_notes(old_facts, new_facts) + notes
    out["regressed"] = regressed
    out["notes"] = "; ".join(note for note in notes if note)
    return out


# --- the comparison -------------------------------------------------------------------------------

COLUMNS = [
    *KEYS,
    "verdict",
    "ratio",
    "old_median_ms",
    "new_median_ms",
    "test",
    "p_value",
    "old_runs",
    "new_runs",
    "accuracy",
    "old_top1",
    "new_top1",
    "accuracy_change",
    "power",
    "old_power_w",
    "new_power_w",
    "power_ratio",
    "old_speedup",
    "new_speedup",
    "speedup_reference",
    "regressed",
    "old_status",
    "new_status",
    "notes",
]


def _rows_by_key(table: pd.DataFrame) -> dict[tuple, pd.Series]:
    """Each row by (device, workload, format, batch), batch None where nothing ran."""
    rows = {}
    for _, row in table.iterrows():
        batch = row["batch"]
        rows[
            (row["device"], row["workload"], row["format"], None if pd.isna(batch) else int(batch))
        ] = row
    return rows


def _spread_run_rows(old: dict[tuple, pd.Series], new: dict[tuple, pd.Series]) -> list[dict]:
    """A run that ran no batch (failed, unsupported) has one row without a batch; where the
    other side ran that run's batches, the row stands for each of them, so that a run that
    now fails is matched with every batch it used to run."""
    old, new = dict(old), dict(new)
    for side, other in ((old, new), (new, old)):
        for key in [key for key in side if key[3] is None and key not in other]:
            batches = [k for k in other if k[:3] == key[:3] and k[3] is not None]
            if batches:
                row = side.pop(key)
                for batch_key in batches:
                    side.setdefault(batch_key, row)
    return [old, new]


def compare(
    old: Results | Path | str,
    new: Results | Path | str,
    *,
    factor: float = FACTOR,
    accuracy_tolerance: float = ACCURACY_TOLERANCE,
    power_factor: float = POWER_FACTOR,
) -> pd.DataFrame:
    """One row per device x workload x format x batch of either side (COLUMNS); `regressed`
    marks what made ``edgebench compare`` exit non-zero."""
    if factor < 1 or power_factor < 1:
        raise ValueError("factor and power_factor are ratios >= 1 (e.g. 1.10 for 10%)")
    old = old if isinstance(old, Results) else load(old)
    new = new if isinstance(new, Results) else load(new)
    settings = {
        "factor": factor,
        "accuracy_tolerance": accuracy_tolerance,
        "power_factor": power_factor,
    }
    sides = _spread_run_rows(*(_rows_by_key(results.table) for results in (old, new)))
    keys = list(sides[0]) + [key for key in sides[1] if key not in sides[0]]
    rows = [
        _compare_row(old, new, key, sides[0].get(key), sides[1].get(key), settings) for key in keys
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("batch", "old_runs", "new_runs"):
        frame[column] = frame[column].astype("Int64")
    frame["regressed"] = frame["regressed"].astype(bool)
    return frame.sort_values(KEYS, na_position="first", kind="stable", ignore_index=True)


def summary(frame: pd.DataFrame) -> str:
    counts = frame["verdict"].value_counts()
    order = [SLOWER, FASTER, SAME]
    parts = [f"{counts[name]} {name}" for name in order if name in counts]
    parts += [f"{count} {name}" for name, count in counts.items() if name not in order]
    extra = []
    for column, bad in (("accuracy", "dropped"), ("power", "higher")):
        if column in frame and frame[column].eq(bad).any():
            extra.append(f"{int(frame[column].eq(bad).sum())} {column} {bad}")
    text = f"{len(frame)} rows: " + ", ".join(parts)
    if extra:
        text += "; " + ", ".join(extra)
    regressed = int(frame["regressed"].sum())
    return text + (f"; {regressed} regressed" if regressed else "; nothing regressed")
