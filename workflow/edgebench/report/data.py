"""What the report reads: result tables, raw logs and the per-device digests.

`load_results(pattern)` reads raw logs (run.jsonl) or result tables (.csv, .parquet) matching a
glob into one DataFrame, as dlmark's `load_results` does. `device_digest()` condenses one device's
raw logs into what the report draws (exact box statistics of every batch's raw samples, the
device's facts, runtimes and model hashes), so adding a device to a run digests only that device.
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pandas as pd

from edgebench.fileio import DEVICE_DIGEST, read_workload_meta
from edgebench.metrics import stats
from edgebench.metrics.annotations import run_power
from edgebench.metrics.derived import add_derived
from edgebench.metrics.tables import batch_columns
from edgebench.power.integrate import load_trace, windows
from edgebench.rawlog import KEYS, read_run, run_key

DIGEST_VERSION = DEVICE_DIGEST.version  # edgebench.fileio: the versions and what they added
NS_PER_MS = 1_000_000
TABLE_SUFFIXES = (".csv", ".parquet")


# --- load_results -------------------------------------------------------------------------------


def load_results(pattern: str | Path, *, samples: bool = False) -> pd.DataFrame:
    """Every raw log or table matching a glob (``**`` allowed), as one DataFrame.

    Tables (results.csv, results.parquet) come back as they are. A raw log gives one row per
    batch size with the same column names as the tables (status, latency_ms_*, throughput_ips,
    max_batch, ...), plus group, family and FLOPs when its workload's meta.json is found under
    the same results folder; with ``samples=True`` it gives one row per timed inference
    (``latency_ms``) instead. A ``source`` column names the file each row came from.
    """
    paths = sorted(glob.glob(str(pattern), recursive=True))
    if not paths:
        raise FileNotFoundError(f"no result file matches {str(pattern)!r}")
    frames = []
    for name in paths:
        path = Path(name)
        if path.name.endswith(".jsonl"):
            frame = raw_samples(path) if samples else raw_summary(path)
        elif path.suffix == ".csv":
            frame = pd.read_csv(path)
        elif path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raise ValueError(f"{path}: not a raw log (.jsonl) or a table (.csv, .parquet)")
        frames.append(frame.assign(source=str(path)))
    frames = [frame for frame in frames if not frame.empty] or frames[:1]
    return pd.concat(frames, ignore_index=True, sort=False)


def _identity(path: Path, header: dict) -> dict:
    keys = dict(zip(KEYS, run_key(path), strict=True))
    return {key: header.get(key) or keys[key] for key in KEYS}


def _meta_for(path: Path, workload: str) -> dict:
    """The meta.json of a raw log's workload: results/raw/... -> results/workloads/{w}/meta.json"""
    parents = Path(path).resolve().parents
    if len(parents) < 5:
        return {}
    meta = parents[4] / "workloads" / workload / "meta.json"
    if not meta.is_file():
        return {}
    data = read_workload_meta(meta)
    return {key: data.get(key) for key in ("group", "family", "params", "macs", "flops")}


def raw_summary(path: Path | str) -> pd.DataFrame:
    """One row per batch size of one run.jsonl (one row with the end status when none ran)."""
    run = read_run(path)
    identity = _identity(run.path, run.header)
    runtime = run.header.get("runtime") or {}
    common = {
        **identity,
        **_meta_for(run.path, identity["workload"]),
        "runtime_name": runtime.get("name"),
        "runtime_version": runtime.get("version"),
        "threads": run.header.get("threads"),
    }
    rows, power = [], run_power(run)
    for record in run.batches:
        samples = run.samples.get(record["batch"])
        per_process = (run.processes or {}).get(record["batch"])
        row = {
            **common,
            **batch_columns(record, samples, run.header.get("timing"), per_process),
            **power.get(record["batch"], {}),
        }
        row["status"], row["reason"] = row.pop("batch_status"), row.pop("batch_reason")
        rows.append(row)
    if not rows:
        rows.append({**common, "status": run.end["status"], "reason": run.end.get("reason")})
    frame = pd.DataFrame(rows)
    if "latency_ms_median" in frame:
        frame = add_derived(frame)  # the table builder's formulas, on this log's rows
    return frame


def raw_samples(path: Path | str) -> pd.DataFrame:
    """One row per timed inference of one run.jsonl: latency_ms, start_ns, batch."""
    run = read_run(path)
    identity = _identity(run.path, run.header)
    frames = []
    for batch, durations in run.samples.items():
        frames.append(
            pd.DataFrame(
                {
                    **identity,
                    "batch": batch,
                    "sample": np.arange(len(durations)),
                    "latency_ms": durations / NS_PER_MS,
                }
            )
        )
    columns = [*KEYS, "batch", "sample", "latency_ms"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


# --- per-device digest ----------------------------------------------------------------------------


def box_statistics(durations_ns: np.ndarray) -> dict:
    """Exact box-plot figures (ms) of every raw sample: quartiles, whiskers to the last sample
    inside the outlier fences (edgebench.metrics.stats.outlier_fences, as the tables), mean, CV."""
    ms = np.asarray(durations_ns, dtype=np.float64) / NS_PER_MS
    summary = stats.summarize(durations_ns)
    q1, q3 = np.percentile(ms, [25, 75])
    inside = ms[~stats.outliers(ms)]
    return {
        "n": summary["n"],
        "q1": float(q1),
        "median": summary["median"],
        "q3": float(q3),
        "lowerfence": float(inside.min()),
        "upperfence": float(inside.max()),
        "mean": summary["mean"],
        "sd": summary["std"],
        "min": summary["min"],
        "max": summary["max"],
        "p99": summary["p99"],
        "outliers": int(len(ms) - len(inside)),
        "cv": summary["cv"],
        "ci_low": summary["ci_low"],
        "ci_high": summary["ci_high"],
        "ci_level": summary["ci_level"],
        "unstable": summary["unstable"],
    }


def process_statistics(per_process: dict[int, np.ndarray], timing: dict | None) -> dict:
    """Each process's median (ms, in process order), their spread and whether it is too wide."""
    ordered = [per_process[index] for index in sorted(per_process)]
    spread = stats.process_spread(ordered)
    return {
        "process_medians": [float(np.median(values)) / NS_PER_MS for values in ordered],
        "process_spread": None if np.isnan(spread) else spread,
        "spread_limit": stats.spread_limit(timing),
        "spread_too_wide": bool(spread > stats.spread_limit(timing)),
    }


def power_trace(run) -> dict | None:
    """A run's power log, as the report draws it: watts over time (s since the first sample;
    an energy counter's differences), the timed windows and the idle window on that time axis."""
    trace = load_trace(run.path.parent, run.header, run.end)
    if trace is None or len(trace.t_ns) < 2:
        return None
    t, values = trace.t_ns.astype(np.float64), trace.values
    if trace.kind == "energy":
        t, values = (t[1:] + t[:-1]) / 2, np.diff(values) / (np.diff(t) / 1e9)
    origin = t[0]

    def seconds(ns) -> float:
        return round((ns - origin) / 1e9, 6)

    spans = windows(trace.marks, "window")
    idle = windows(trace.marks, "idle").get(())
    return {
        "source": trace.source,
        "time_s": [seconds(x) for x in t],
        "watts": [None if np.isnan(v) else float(v) for v in values],
        "windows": [
            [seconds(start), seconds(end), batch, process]
            for (batch, process), (start, end) in sorted(spans.items())
        ],
        "idle": [seconds(idle[0]), seconds(idle[1])] if idle else None,
    }


def device_digest(device: str, profile: dict, runs: list[Path | str]) -> dict:
    """What the report needs from one device's raw logs; see the module docstring."""
    digest_runs, facts = [], {}
    for path in runs:
        run = read_run(path)
        header = run.header
        if header.get("device") not in (None, device):
            raise ValueError(f"{path}: a run of device {header['device']!r}, not {device!r}")
        facts = header.get("facts") or facts
        batches = []
        for record in run.batches:
            entry = {
                "batch": record["batch"],
                "status": record["status"],
                "reason": record.get("reason") or None,
            }
            values = run.samples.get(record["batch"])
            if record["status"] == "ok" and values is not None and len(values):
                entry.update(box_statistics(values))
                per_process = (run.processes or {}).get(record["batch"]) or {}
                entry.update(process_statistics(per_process, header.get("timing")))
                entry["unstable"] = entry["unstable"] or entry["spread_too_wide"]
            batches.append(entry)
        _, workload, format_name = run.key
        digest_runs.append(
            {
                "workload": workload,
                "format": format_name,
                "status": run.end["status"],
                "reason": run.end.get("reason") or None,
                "runtime": header.get("runtime"),
                "threads": header.get("threads"),
                "model": header.get("model"),
                "timing": header.get("timing"),
                "batches": batches,
                "power": power_trace(run),
            }
        )
    return {
        "format_version": DIGEST_VERSION,
        "device": device,
        "profile": profile,
        "facts": facts,
        "runs": digest_runs,
    }
