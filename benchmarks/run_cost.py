"""Where a workflow run's time goes, as the workflow measured it: Snakemake's benchmark TSV of
every measured job (results/benchmarks/), summed per rule, per format and per device, and the
slowest jobs, with the load average when printed (a loaded machine stretches every figure).

    .venv/bin/python benchmarks/run_cost.py [--project .] [--top 10]

A job keeps the TSV of its last run; rules without a `benchmark:` (datasets, images, tables)
are not counted, and a run made before the rules were measured has no TSVs at all.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pandas as pd
from edgebench import paths
from edgebench.metrics import cost

SUM_COLUMNS = {
    "jobs": "jobs",
    "measured": "measured",
    "s": "seconds",
    "cpu_time": "CPU s",
    "max_rss": "peak RSS MiB",
}


def number(value: float) -> str:
    return "-" if pd.isna(value) else f"{value:,.1f}"


def show(frame: pd.DataFrame, columns: dict[str, str]) -> str:
    shown = frame[list(columns)].rename(columns=columns)
    return shown.to_string(index=False, na_rep="-", float_format=number)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("."), help="the project folder")
    parser.add_argument("--top", type=int, default=10, help="how many slowest jobs to list")
    args = parser.parse_args()
    folder = args.project / paths.benchmarks_root()
    costs = cost.job_costs(cost.found_jobs(args.project), root=args.project)
    if costs.empty:
        raise SystemExit(f"no benchmark TSV under {folder}: run the workflow first")
    unreadable = costs[~costs["status"].eq(cost.MEASURED)]
    for row in unreadable.itertuples():
        print(f"skipped {row.path}: {row.status}")
    totals = cost.total(costs)
    print(
        f"{folder}: {totals['measured']} jobs, {number(totals['s'])} s wall, "
        f"{number(totals['cpu_time'])} CPU s"
    )
    for by in ("rule", "format", "device"):
        frame = cost.summarize(costs, by)
        if not frame.empty:
            print(f"\nper {by}:")
            print(show(frame, {by: by, **SUM_COLUMNS}))
    print(f"\nslowest {args.top} jobs:")
    top = cost.slowest(costs, args.top)
    print(show(top, {"job": "job", "s": "seconds", "max_rss": "peak RSS MiB"}))
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nload average now (1, 5, 15 min): {load}")


if __name__ == "__main__":
    main()
