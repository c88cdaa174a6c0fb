"""What the workflow itself cost: Snakemake's benchmark TSVs (one per job, `benchmark:` in the
rules, paths from ``paths.benchmark``) as one table, summed per rule, format and device.

A TSV has Snakemake's columns ``s h:m:s max_rss max_vms max_uss max_pss io_in io_out mean_load
cpu_time`` (memory in MiB, which Snakemake calls MB; ``NA`` where the job ended before its first
sample) and one line per repeat. A job keeps the TSV of its last run: a job that did not run
again this time shows what it cost when it did. A job with no TSV (run before its rule was
measured, or not finished) is a row that says so, never a made-up figure; its seconds are absent
and it is left out of the sums, which count it as missing.

The report's own TSV is written by Snakemake after the report job ends, so the page can never
contain its own cost: that row says so (``AFTER_PAGE``) and the sums leave it out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edgebench import paths

MEASURED = "measured"
MISSING = "no benchmark file"
AFTER_PAGE = "measured after this page"
WILDCARDS = ["device", "workload", "format"]
FIGURES = ["s", "cpu_time", "max_rss", "mean_load"]  # what a cost row keeps of a TSV
COLUMNS = ["rule", *WILDCARDS, "job", "path", "status", *FIGURES, "repeats"]


def read_benchmark(path: Path | str) -> dict | None:
    """One TSV as {s, cpu_time, max_rss, mean_load, repeats}: seconds and CPU seconds summed
    over its repeats, the peak memory (MiB) their largest, the load their mean; None when the
    file does not exist. Raises ValueError for a file that is not a benchmark TSV."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as error:
        raise ValueError(f"{path}: not a benchmark TSV ({error})") from None
    if frame.empty or "s" not in frame.columns:
        raise ValueError(f"{path}: not a benchmark TSV (no line with an 's' column)")

    def column(name: str) -> pd.Series:
        if name not in frame.columns:
            return pd.Series(np.nan, index=frame.index)
        return pd.to_numeric(frame[name], errors="coerce")

    def total(values: pd.Series) -> float:
        return float(values.sum()) if values.notna().any() else np.nan

    return {
        "s": total(column("s")),
        "cpu_time": total(column("cpu_time")),
        "max_rss": float(column("max_rss").max()),  # NaN when every line is NA
        "mean_load": float(column("mean_load").mean()),
        "repeats": len(frame),
    }


def job(rule: str, **wildcards: str) -> dict:
    """A job as the cost table names it: its rule and wildcards (a key of paths.BENCHMARKED)."""
    names = paths.BENCHMARKED[rule]
    if set(wildcards) != set(names):
        raise ValueError(f"rule {rule!r} has wildcards {names}, not {sorted(wildcards)}")
    return {"rule": rule, **{name: wildcards[name] for name in names}}


def benchmark_path(entry: dict) -> str:
    return paths.benchmark(entry["rule"], *(entry[n] for n in paths.BENCHMARKED[entry["rule"]]))


def workflow_jobs(runs, settings: dict, interleaved: dict | None = None) -> list[dict]:
    """The measured jobs behind a report: builds, conversions and reference outputs of every
    workload and format in its rows, the runs (this plan's `runs`, then those measured here
    before, settings["elsewhere"]), each device's digest, and the report itself.

    `settings` is ``outcome.table_settings``: its rows, elsewhere, accuracy and devices.
    `interleaved` is ``Plan.interleaved_groups()``: a device there times each workload's
    formats in one job (run_interleaved, no format) instead of one run job per format."""
    interleaved = interleaved or {}
    rows = [tuple(row) for row in settings["rows"]]
    workloads = list(dict.fromkeys(w for _, w, _ in rows))
    conversions = list(dict.fromkeys((w, f) for _, w, f in rows))
    planned = [tuple(key) for key in runs]
    elsewhere = [tuple(key) for key in settings.get("elsewhere", [])]
    grouped = [(d, w) for d, w, f in planned if f in interleaved.get(d, ())]
    single = [(d, w, f) for d, w, f in planned if f not in interleaved.get(d, ())]
    return [
        *(job("build_workload", workload=w) for w in workloads),
        *(job("convert", workload=w, format=f) for w, f in conversions),
        *(job("reference_outputs", workload=w) for w in settings.get("accuracy", {})),
        *(job("run", device=d, workload=w, format=f) for d, w, f in dict.fromkeys(single)),
        *(job("run_interleaved", device=d, workload=w) for d, w in dict.fromkeys(grouped)),
        # measured here before: by one run job per format, as far as this plan can tell
        *(job("run", device=d, workload=w, format=f) for d, w, f in dict.fromkeys(elsewhere)),
        *(job("report_device", device=d) for d in settings.get("devices", {})),
        job("report"),
    ]


def found_jobs(root: Path | str = ".") -> list[dict]:
    """Every job that has a benchmark TSV under root/results/benchmarks, named by its path."""
    root = Path(root)
    found = []
    for tsv in sorted((root / paths.benchmarks_root()).rglob("*.tsv")):
        named = paths.benchmark_job(tsv.relative_to(root).as_posix())
        if named is not None:
            found.append(job(named[0], **named[1]))
    return found


def job_costs(jobs: list[dict], root: Path | str = ".", after_page: bool = False) -> pd.DataFrame:
    """One row per job (COLUMNS): its figures when its TSV exists, else the status says why
    there are none. `after_page`: the table goes into the report, whose own TSV is written
    after the page (that row says so and has no figures, even where an older TSV exists)."""
    root = Path(root)
    rows = []
    for entry in jobs:
        path = benchmark_path(entry)
        row = {
            "rule": entry["rule"],
            **{name: entry.get(name) for name in WILDCARDS},
            "job": job_name(entry),
            "path": path,
            **dict.fromkeys(FIGURES, np.nan),
            "repeats": np.nan,
        }
        if after_page and entry["rule"] == "report":
            row["status"] = AFTER_PAGE
        else:
            try:
                figures = read_benchmark(root / path)
            except ValueError as error:
                row["status"] = f"unreadable: {error}"
            else:
                row["status"] = MEASURED if figures is not None else MISSING
                row.update(figures or {})
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def job_name(entry: dict) -> str:
    """rule, then its wildcards as Snakemake prints them: `run device=local, workload=...`."""
    wildcards = ", ".join(f"{n}={entry[n]}" for n in paths.BENCHMARKED[entry["rule"]])
    return f"{entry['rule']} {wildcards}".strip()


def summarize(costs: pd.DataFrame, by: str) -> pd.DataFrame:
    """Per value of `by` (rule, format or device; jobs without one are left out): how many
    jobs, how many were measured, how many have no figures and why (`unmeasured`: each other
    status with its count), total seconds and CPU seconds of the measured ones, and the largest
    peak memory (MiB). Slowest first."""
    columns = [by, "jobs", "measured", "missing", "unmeasured", "s", "cpu_time", "max_rss"]
    costs = costs.dropna(subset=[by])
    if costs.empty:
        return pd.DataFrame(columns=columns)
    measured = costs["status"].eq(MEASURED)
    grouped = costs.assign(measured=measured, missing=~measured).groupby(by, sort=False)
    frame = grouped.agg(
        jobs=("status", "size"),
        measured=("measured", "sum"),
        missing=("missing", "sum"),
        s=("s", lambda v: v.sum(min_count=1)),
        cpu_time=("cpu_time", lambda v: v.sum(min_count=1)),
        max_rss=("max_rss", "max"),
        unmeasured=("status", _unmeasured),
    ).reset_index()
    frame = frame.sort_values("s", ascending=False, na_position="last", kind="stable")
    return frame[columns].reset_index(drop=True)


def _unmeasured(statuses: pd.Series) -> str:
    counts = statuses[statuses.ne(MEASURED)].value_counts(sort=False)
    return ", ".join(f"{count} {status}" for status, count in counts.items())


def slowest(costs: pd.DataFrame, top: int = 10) -> pd.DataFrame:
    """The `top` measured jobs that took longest: rule, wildcards, seconds, peak memory."""
    measured = costs[costs["status"].eq(MEASURED) & costs["s"].notna()]
    return (
        measured.sort_values("s", ascending=False, kind="stable").head(top).reset_index(drop=True)
    )


def total(costs: pd.DataFrame) -> dict:
    """{jobs, measured, missing, s, cpu_time}: the measured jobs' seconds summed."""
    measured = costs[costs["status"].eq(MEASURED)]
    return {
        "jobs": len(costs),
        "measured": len(measured),
        "missing": len(costs) - len(measured),
        "s": float(measured["s"].sum()) if len(measured) else np.nan,
        "cpu_time": measured["cpu_time"].sum(min_count=1) if len(measured) else np.nan,
    }
