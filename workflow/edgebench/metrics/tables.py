"""The tidy result table: one row per device x workload x format x batch.

Every planned device x workload x format gets at least one row. A conversion that was not
possible, a format the device has no runtime for, or a run that ended unsupported/failed is one
row with that status and its reason; a complete run is one row per batch size it tried. An absent
figure (no accuracy run, no power sensor, a failed batch) is empty, never zero.

Inputs follow docs/raw-format.md (run.jsonl), convert/job.py ({format}.json) and
workloads/build.py (meta.json). Anything inconsistent in them raises ValueError naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edgebench.fileio import atomic_path, read_conversion_record, read_workload_meta
from edgebench.metrics import accuracy, columns, stats
from edgebench.metrics.annotations import (
    MEASURED_POWER_COLUMNS,
    add_power_notes,
    conversion_flags,
    flag_accuracy,
    run_power,
    runtime_details,
)
from edgebench.metrics.derived import add_derived
from edgebench.metrics.speedup import paired_entry, paired_speedups
from edgebench.rawlog import KEYS, RawRun, expect, read_run, run_key

IDENTITY_COLUMNS = [*KEYS, "batch", "group", "family", "status", "reason"]
LATENCY_COLUMNS = {  # stats.summarize() key -> table column
    "median": "latency_ms_median",
    "mean": "latency_ms_mean",
    "std": "latency_ms_std",
    "min": "latency_ms_min",
    "max": "latency_ms_max",
    "p50": "latency_ms_p50",
    "p90": "latency_ms_p90",
    "p95": "latency_ms_p95",
    "p99": "latency_ms_p99",
    "iqr": "latency_ms_iqr",
    "cv": "latency_cv",
    "ci_low": "latency_ms_ci_low",
    "ci_high": "latency_ms_ci_high",
    "ci_level": "latency_ci_level",
    "ci_halfwidth": "latency_ci_halfwidth",
    "robust_cv": "latency_robust_cv",
    "outlier_share": "latency_outlier_share",
    "unstable": "unstable",
    "unstable_reason": "unstable_reason",
}
BATCH_COLUMNS = [
    "batch",
    "batch_status",
    "batch_reason",
    "runs",
    "held_runs",
    *LATENCY_COLUMNS.values(),
    "latency_process_spread",
    "latency_window_spread",
    "load_ms",
    "first_inference_ms",
    "peak_rss_kb",
    "timing_note",
    *MEASURED_POWER_COLUMNS,
]
ACCURACY_COLUMNS = [
    "accuracy_samples",
    "accuracy_top1",
    "accuracy_top5",
    "reference_top1",
    "accuracy_auc",
    "reference_auc",
    "agreement",
    "accuracy_informative",
    "accuracy_note",
]
RUN_COLUMNS = [
    "end_status",
    "end_reason",
    "runtime_name",
    "runtime_version",
    "runtime_details",
    "accelerator_fallback",
    "threads",
    "cpu_model",
    "hostname",
    *ACCURACY_COLUMNS,
]
POWER_COLUMNS = [
    "power_w",
    "idle_power_w",
    "active_power_w",
    "energy_per_inference_mj",
    "efficiency_ips_per_w",
]
COLUMNS = columns.NAMES  # the table's columns, in order: edgebench.metrics.columns
INTEGER_COLUMNS = columns.names_of("int")
TEXT_COLUMNS = columns.names_of("text")
BOOLEAN_COLUMNS = columns.names_of("bool")
NS_PER_MS = 1_000_000
# A board's windows agree to 0.01% (its own clock, no scheduler): windows whose throughputs are
# further apart than 2% mean a disturbed run (an interrupt storm, a throttled clock)
MAX_WINDOW_SPREAD = 1.02
NOT_RUN = "not run: the workflow stopped before this run (see its log under results/logs/run/)"
NOT_CONVERTED = "not converted: the workflow stopped before this conversion finished"

CONVERSION_STATUSES = {"ok", "unsupported", "failed"}


# --- per-run and per-batch columns --------------------------------------------------------------


def ms(nanoseconds) -> float:
    return np.nan if nanoseconds is None else nanoseconds / NS_PER_MS


def timing_note(record: dict, timing: dict, halfwidth: float | None = None) -> str | None:
    """Says when `max_runs` ended the timed window before `min_s` (a shorter window than asked),
    `max_s` ended it before the median's interval reached `target_ci`, or the suite's budget
    did (with the interval it reached: `halfwidth`, a fraction of the median); for a serial
    board, that its statistics are over its windows' means."""
    if record.get("stopped_by") == "windows":
        return serial_note(record)
    if record.get("stopped_by") == "budget":
        return budget_note(record, timing, halfwidth)
    if record.get("stopped_by") == "max_s" and timing.get("target_ci"):
        return (
            f"reached max_s ({timing.get('max_s')} s) before the median's 95% interval was "
            f"within +/- {timing['target_ci']:.1%}"
        )
    if record.get("stopped_by") != "max_runs":
        return None
    # a batch of several processes sums their windows: min_s and max_runs are per process
    count = len(record.get("processes") or []) or 1
    window_s = record.get("window_ns", 0) / 1e9 / count
    each = f" (the mean of {count} processes)" if count > 1 else ""
    note = (
        f"max_runs ({timing.get('max_runs')}) ended the timed window after {window_s:.3g} s"
        f"{each}, before min_s ({timing.get('min_s')} s)"
    )
    if record.get("held_runs"):
        note += (
            f"; {record['held_runs']} untimed runs held the power window open for another "
            f"{record['held_ns'] / 1e9:.3g} s"
        )
    return note


def budget_note(record: dict, timing: dict, halfwidth: float | None) -> str:
    """A batch size that spent its budget: the budget, each process's share, and the interval
    the pooled samples reached against the target."""
    processes = record.get("processes") or [record]
    stopped = sum(1 for p in processes if p.get("stopped_by") == "budget")
    count = timing.get("processes") or len(processes)
    budget = timing.get("budget_s")
    note = (
        f"stopped at its budget: budget_s {budget:g} s per batch size, {budget / count:.3g} s "
        f"for each of {count} process{'es' if count > 1 else ''} "
        f"({stopped} of {len(processes)} stopped there)"
        if budget
        else "stopped at its budget"
    )
    reached = "" if halfwidth is None or np.isnan(halfwidth) else f"+/- {halfwidth:.1%}"
    target = timing.get("target_ci")
    if reached:
        note += f"; the median's 95% interval reached {reached}"
        if target:
            note += f" (target +/- {target:.1%})"
    return note


def serial_note(record: dict) -> str:
    """A serial board times windows, not inferences: say what its statistics are over."""
    windows = record.get("windows") or 1
    note = (
        f"latency statistics (std, percentiles, CI, CV) are over the means of {windows} "
        f"windows of about {record.get('runs', 0) // windows} inferences on the board's clock, "
        "not over single inferences"
    )
    if record.get("short_windows"):  # a board that ran faster than its calibration
        note += (
            f"; {record['short_windows']} of {record.get('windows')} windows lasted less than "
            f"window_s ({record.get('window_s')} s)"
        )
    return note


def window_spread(samples: np.ndarray) -> float:
    """Fastest over slowest window throughput (max / min of the windows' mean latencies)."""
    return float(np.max(samples) / np.min(samples))


def batch_columns(
    record: dict,
    samples: np.ndarray | None,
    timing: dict | None = None,
    processes: dict[int, np.ndarray] | None = None,
) -> dict:
    """One batch record of a raw log as table columns, latency statistics included; with the
    samples of each process, their medians' spread (max / min) and whether it is too wide."""
    columns = {
        "timing_note": None,  # below: a budget's note names the interval the samples reached
        "batch": record["batch"],
        "batch_status": record["status"],
        "batch_reason": record.get("reason") or None,
        "runs": record.get("runs"),
        "held_runs": record.get("held_runs", 0),
        "load_ms": ms(record.get("load_ns")),
        "first_inference_ms": ms(record.get("first_ns")),
        "peak_rss_kb": record.get("peak_rss_kb"),
    }
    halfwidth = None
    if record["status"] == "ok":
        summary = stats.summarize(samples)
        columns.update({column: summary[key] for key, column in LATENCY_COLUMNS.items()})
        halfwidth = summary["ci_halfwidth"]
        spread = stats.process_spread(list((processes or {}).values()))
        columns["latency_process_spread"] = spread
        if spread > stats.spread_limit(timing):
            reasons = [r for r in (columns["unstable_reason"], "process_spread") if r]
            columns.update(unstable=True, unstable_reason=",".join(reasons))
        if record.get("stopped_by") == "windows":  # a serial board's windows
            columns["latency_window_spread"] = window_spread(samples)
            if columns["latency_window_spread"] > MAX_WINDOW_SPREAD:
                reasons = [r for r in (columns["unstable_reason"], "window_spread") if r]
                columns.update(unstable=True, unstable_reason=",".join(reasons))
    columns["timing_note"] = timing_note(record, timing or {}, halfwidth)
    return columns


def _run_columns(
    run: RawRun, labels_path: Path | None, reference_path: Path | None, metric: str
) -> dict:
    facts = run.header.get("facts") or {}
    runtime = run.header.get("runtime") or {}
    return {
        **runtime_details(run),
        "end_status": run.end["status"],
        "end_reason": run.end.get("reason") or None,
        "runtime_name": runtime.get("name"),
        "runtime_version": runtime.get("version"),
        "threads": run.header.get("threads"),
        "cpu_model": facts.get("cpu_model"),
        "hostname": facts.get("hostname"),
        **accuracy.run_columns(run, labels_path, reference_path, metric),
    }


def _run_frames(
    wanted: list[tuple[str, str, str]],
    runs: list[Path],
    references: dict[str, Path],
    datasets: dict[str, Path],
    missing_reasons: dict[tuple[str, str, str], str] | None = None,
    metrics: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per run, and one row per batch of the complete runs. A run without a log is an
    error, unless `missing_reasons` is given (a partial table): then it is a failed row."""
    paths = {run_key(path): Path(path) for path in runs}
    missing = [key for key in wanted if key not in paths]
    if missing and missing_reasons is None:
        raise ValueError(f"no run.jsonl for device x workload x format {missing}")
    run_rows, batch_rows, paired = [], [], []
    for key in missing:
        reason = missing_reasons.get(key) or NOT_RUN
        run_rows.append(
            {**dict(zip(KEYS, key, strict=True)), "end_status": "failed", "end_reason": reason}
        )
    for key in (key for key in wanted if key in paths):
        run = read_run(paths[key])
        identity = dict(zip(KEYS, key, strict=True))
        workload = identity["workload"]
        metric = (metrics or {}).get(workload, accuracy.TOP1)
        labels, reference = datasets.get(workload), references.get(workload)
        run_rows.append({**identity, **_run_columns(run, labels, reference, metric)})
        if run.end["status"] != "complete":
            continue
        if not run.batches:
            raise ValueError(f"{run.path}: complete, but without a single batch record")
        power = run_power(run)
        if entry := paired_entry(run):  # interleaved: paired with its reference below
            paired.append(entry)
        for record in run.batches:
            batch_rows.append(
                {
                    **identity,
                    **batch_columns(
                        record,
                        run.samples.get(record["batch"]),
                        run.header.get("timing"),
                        (run.processes or {}).get(record["batch"]),
                    ),
                    **power.get(record["batch"], {}),
                }
            )
    batches = pd.DataFrame(batch_rows, columns=[*KEYS, *BATCH_COLUMNS])
    speedups = paired_speedups(paired).astype({"batch": batches["batch"].dtype})
    batches = batches.merge(speedups, on=[*KEYS, "batch"], how="left", validate="one_to_one")
    return pd.DataFrame(run_rows, columns=[*KEYS, *RUN_COLUMNS]), batches


# --- plan, workloads, conversions ---------------------------------------------------------------


def _meta_frame(metas: list[Path]) -> pd.DataFrame:
    fields = ["workload", "group", "family", "params", "macs", "flops", "metric"]
    rows = [{field: read_workload_meta(path).get(field) for field in fields} for path in metas]
    return pd.DataFrame(rows, columns=fields)


def _conversion_frame(conversions: list[Path]) -> pd.DataFrame:
    rows = []
    for path in conversions:
        record = read_conversion_record(path)
        expect(record.get("status"), CONVERSION_STATUSES, f"{path}: conversion status")
        rows.append(
            {
                "workload": record["workload"],
                "format": record["format"],
                "conversion_status": record["status"],
                "conversion_reason": record.get("reason") or "",
                "model_size_bytes": record.get("size_bytes"),
                "conversion_flags": conversion_flags(record),
            }
        )
    columns = [
        "workload",
        "format",
        "conversion_status",
        "conversion_reason",
        "model_size_bytes",
        "conversion_flags",
    ]
    return pd.DataFrame(rows, columns=columns)


def _plan_frame(plan_rows: list[tuple[str, str, str]], devices: dict[str, dict]) -> pd.DataFrame:
    plan = pd.DataFrame(list(dict.fromkeys(map(tuple, plan_rows))), columns=KEYS)
    if unknown := sorted(set(plan["device"]) - set(devices)):
        raise ValueError(f"plan rows name devices without a profile: {unknown}")
    runtimes = pd.DataFrame(
        [(name, fmt) for name, profile in devices.items() for fmt in profile.get("formats", [])],
        columns=["device", "format"],
    ).drop_duplicates()
    plan = plan.merge(runtimes.assign(has_runtime=True), on=["device", "format"], how="left")
    plan["has_runtime"] = plan["has_runtime"].notna()
    sources = {
        name: (profile.get("power") or {}).get("source", "none")
        for name, profile in devices.items()
    }
    plan["power_source"] = plan["device"].map(sources)
    return plan


def _metrics(meta: pd.DataFrame) -> dict[str, str]:
    """Workload -> how its accuracy is scored (meta.json `metric`; top-1 where absent)."""
    return {w: m or accuracy.TOP1 for w, m in zip(meta["workload"], meta["metric"], strict=True)}


def _require(table: pd.DataFrame, column: str, where: pd.Series, message: str) -> None:
    missing = table.loc[where & table[column].isna(), KEYS].drop_duplicates()
    if not missing.empty:
        raise ValueError(f"{message}: {list(missing.itertuples(index=False, name=None))}")


def _stage(table: pd.DataFrame) -> pd.Series:
    """Where each planned row stops: at conversion, at the device's runtimes, or at its run."""
    conversion_blocked = table["conversion_status"].notna() & table["conversion_status"].ne("ok")
    stage = np.select(
        [conversion_blocked, ~table["has_runtime"]], ["conversion", "runtime"], default="run"
    )
    return pd.Series(stage, index=table.index)


# --- the table ------------------------------------------------------------------------------------


def _resolve_status(table: pd.DataFrame) -> pd.DataFrame:
    at_conversion = table["stage"].eq("conversion")
    at_runtime = table["stage"].eq("runtime")
    complete = table["end_status"].eq("complete")
    no_runtime = "device " + table["device"] + " has no runtime for " + table["format"]
    table["status"] = table["end_status"].case_when(
        [
            (at_conversion, table["conversion_status"]),
            (at_runtime, "unsupported"),
            (complete, table["batch_status"]),
        ]
    )
    table["reason"] = table["end_reason"].case_when(
        [
            (at_conversion, "conversion: " + table["conversion_reason"].fillna("")),
            (at_runtime, no_runtime),
            (complete, table["batch_reason"]),
        ]
    )
    return table


def _typed(table: pd.DataFrame) -> pd.DataFrame:
    table = table.reindex(columns=COLUMNS)
    numeric = [c for c in COLUMNS if c not in {*INTEGER_COLUMNS, *TEXT_COLUMNS, *BOOLEAN_COLUMNS}]
    table[INTEGER_COLUMNS] = table[INTEGER_COLUMNS].astype("float64").astype("Int64")
    table[BOOLEAN_COLUMNS] = table[BOOLEAN_COLUMNS].astype("boolean")
    table[numeric] = table[numeric].astype("float64")
    table[TEXT_COLUMNS] = (
        table[TEXT_COLUMNS].astype(object).where(table[TEXT_COLUMNS].notna(), None)
    )
    return table.reset_index(drop=True)


def build_table(
    runs: list[Path],
    conversions: list[Path],
    metas: list[Path],
    devices: dict[str, dict],
    plan_rows: list[tuple[str, str, str]],
    references: dict[str, Path],
    datasets: dict[str, Path],
    missing_reasons: dict[tuple[str, str, str], str] | None = None,
    max_accuracy_drop: float | dict | None = None,
) -> pd.DataFrame:
    """The tidy table of everything the plan covers; see the module docstring.

    With `missing_reasons` (a workflow that stopped early) a missing workload, conversion or
    run log is a failed row, with the reason given for it or the note that it did not run."""
    partial = missing_reasons is not None
    table = _plan_frame(plan_rows, devices)
    meta = _meta_frame(metas)
    table = table.merge(meta, on="workload", how="left", validate="many_to_one")
    if not partial:
        _require(table, "group", table["workload"].notna(), "no meta.json for workloads")
    conversion = _conversion_frame(conversions)
    table = table.merge(conversion, on=["workload", "format"], how="left", validate="many_to_one")
    if partial:
        unconverted = table["conversion_status"].isna()
        table.loc[unconverted, "conversion_status"] = "failed"
        table.loc[unconverted, "conversion_reason"] = NOT_CONVERTED
    table["stage"] = _stage(table)
    needs_run = table["stage"].eq("run")
    _require(table, "conversion_status", needs_run, "no conversion record for")
    wanted = list(table.loc[needs_run, KEYS].itertuples(index=False, name=None))
    run_frame, batch_frame = _run_frames(
        wanted, runs, references, datasets, missing_reasons, _metrics(meta)
    )
    table = table.merge(run_frame, on=KEYS, how="left", validate="one_to_one")
    table = table.merge(batch_frame, on=KEYS, how="left", validate="one_to_many")
    table = _resolve_status(table)
    table = add_power_notes(table)
    table = add_derived(table)
    table = flag_accuracy(table, max_accuracy_drop)
    return _typed(table)


def write_tables(table: pd.DataFrame, out_dir: Path | str) -> tuple[Path, Path]:
    """results.csv and results.parquet in out_dir, each written atomically."""
    out_dir = Path(out_dir)
    csv_path, parquet_path = out_dir / "results.csv", out_dir / "results.parquet"
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(parquet_path) as tmp:
        table.to_parquet(tmp, index=False)
    return csv_path, parquet_path
