"""What a workflow run leaves behind: tables and a report over everything measured in this
results folder, also when some jobs failed, and a summary the user cannot miss.

- The tables cover the current plan's rows plus every run already measured here (read from
  the raw logs' headers): a run with `--config workloads=...` or another suite adds rows, it
  never shrinks the project's table. `make clean` starts afresh.
- The plan itself is a file named by its digest (`results/plans/{digest}.json`), an input of
  the tables: a new selection is a new file, so what must run follows from file names, not
  from Snakemake's metadata (this holds with `--rerun-triggers mtime` or without `.snakemake/`).
- When jobs failed (an unreachable board, a crashed conversion), Snakemake skips the table
  rule; `write_partial_results` then builds the tables and report from what completed, each
  missing run a `failed` row with the reason its job recorded (`failure.json`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pandas as pd

from edgebench import paths
from edgebench.fileio import read_json, write_device_digest
from edgebench.metrics.tables import build_table, write_tables
from edgebench.rawlog import read_header, run_key
from edgebench.settings import ConfigError, Plan

Key = tuple[str, str, str]


def plan_manifest(plan: Plan) -> str:
    """The file that stands for this plan's selection of runs (see the module docstring)."""
    return paths.plan_manifest(plan_digest(plan.run_rows()))


def plan_digest(rows: list[Key]) -> str:
    text = json.dumps(sorted(map(list, rows)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def measured_runs() -> list[Key]:
    """(device, workload, format) of every complete raw log in the results folder, read from
    the log's header."""
    return [run_key(path) for path in sorted(Path().glob(paths.raw_logs_glob()))]


def measured_elsewhere(plan: Plan) -> list[Key]:
    """Runs measured here before that this plan does not cover. They are read, never run
    again: no job of this workflow produces them (a device not selected is not driven)."""
    planned = set(plan.run_rows())
    return [key for key in measured_runs() if key not in planned]


def accuracy_files(plan: Plan, workloads) -> dict[str, str]:
    """Workload -> its accuracy dataset file, for the workloads that have one."""
    found = {}
    for workload in workloads:
        try:
            found[workload] = plan.accuracy_dataset(workload)
        except ConfigError:  # measured before, since removed from the catalog
            found[workload] = None
    return {w: path for w, path in found.items() if path}


def row_devices(plan: Plan, rows: list[Key]) -> dict[str, dict]:
    """The profile of every device in the rows; a measured device whose profile is gone keeps
    its rows (it ran those formats) and says it has no power source."""
    devices = {}
    for device in dict.fromkeys(d for d, _, _ in rows):
        try:
            devices[device] = plan.device(device)
        except ConfigError:
            formats = sorted({f for d, _, f in rows if d == device})
            devices[device] = {"name": device, "formats": formats, "power": {"source": "none"}}
    return devices


def table_inputs(plan: Plan) -> dict:
    """The tables rule's inputs: this plan's files only (what it may have to make)."""
    workloads = list(plan.workloads)
    return {
        "plan": plan_manifest(plan),
        "runs": [paths.raw_log(*key) for key in plan.runs()],
        "conversions": [paths.conversion_record(w, f) for w, f in plan.conversions()],
        "metas": [paths.workload_meta(w) for w in workloads],
        "references": [paths.reference(w) for w in accuracy_files(plan, workloads)],
    }


def table_settings(plan: Plan) -> dict:
    """The tables' rows: the plan's, then the runs measured here before (see module doc)."""
    elsewhere = measured_elsewhere(plan)
    rows = plan.run_rows() + elsewhere
    return {
        "rows": [list(row) for row in rows],
        "elsewhere": [list(row) for row in elsewhere],
        "devices": row_devices(plan, rows),
        "accuracy": accuracy_files(plan, dict.fromkeys(w for _, w, _ in rows)),
        "max_accuracy_drop": plan.suite.get("max_accuracy_drop"),
        "workloads": {
            name: {"group": spec.group, "family": spec.family}
            for name, spec in plan.workloads.items()
        },
    }


def build_results_table(
    inputs: dict, settings: dict, partial: bool = False, root: Path = Path(".")
) -> pd.DataFrame:
    """The table from the rule's inputs plus the runs measured elsewhere (read as they are);
    `partial`: only the files that exist are read, and each missing run says why."""
    elsewhere = [tuple(key) for key in settings["elsewhere"]]

    def present(planned, measured):
        """The rule's inputs (all there, unless partial), then the measured files there are."""
        paths = [p for p in planned if not partial or (root / p).exists()]
        paths += [p for p in measured if (root / p).exists()]
        return [root / p for p in dict.fromkeys(paths)]

    runs = present(inputs["runs"], [paths.raw_log(*key) for key in elsewhere])
    conversions = present(
        inputs["conversions"], [paths.conversion_record(w, f) for _, w, f in elsewhere]
    )
    metas = present(inputs["metas"], [paths.workload_meta(w) for _, w, _ in elsewhere])

    accuracy = settings["accuracy"]
    missing_reasons = None
    if partial:
        missing_reasons = {}
        for key in map(tuple, settings["rows"]):
            failure = root / paths.failure_record(*key)
            if failure.exists():
                missing_reasons[key] = f"device failed: {read_json(failure)['reason']}"
    table = build_table(
        runs=runs,
        conversions=conversions,
        metas=metas,
        devices=settings["devices"],
        plan_rows=[tuple(row) for row in settings["rows"]],
        references={w: root / paths.reference(w) for w in accuracy},
        datasets={w: root / path for w, path in accuracy.items()},
        missing_reasons=missing_reasons,
        max_accuracy_drop=settings.get("max_accuracy_drop"),
    )
    return with_build_failures(table, settings, root) if partial else table


def with_build_failures(table: pd.DataFrame, settings: dict, root: Path) -> pd.DataFrame:
    """Rows of workloads that were never built: the group and family their spec names, and
    the builder's own error (its failure.json) as the reason."""
    for workload, facts in settings.get("workloads", {}).items():
        rows = table["workload"].eq(workload) & table["group"].isna()
        if not rows.any():
            continue
        table.loc[rows, "group"] = facts["group"]
        table.loc[rows, "family"] = facts["family"]
        failure = root / paths.build_failure(workload)
        if failure.exists():
            table.loc[rows, "status"] = "failed"
            table.loc[rows, "reason"] = f"build failed: {read_json(failure)['reason']}"
    return table


def device_logs(settings: dict, device: str, planned: list[str]) -> list[str]:
    """A device's raw logs for its digest: the planned ones, then those measured elsewhere."""
    elsewhere = [paths.raw_log(*key) for key in settings["elsewhere"] if key[0] == device]
    return [*planned, *elsewhere]


def write_partial_results(
    plan: Plan, context: dict, images: list[str], inputs: dict, settings: dict
) -> Path:
    """After failed jobs: tables, digests and report from what completed (see docstring)."""
    from edgebench.report.build import load_report
    from edgebench.report.data import device_digest

    table = build_results_table(inputs, settings, partial=True)
    write_tables(table, paths.TABLES)
    digests = []
    for device, profile in settings["devices"].items():
        planned = [p for p in inputs["runs"] if read_device(p) == device]
        path = paths.device_digest(device)
        digest = device_digest(device, profile, device_logs(settings, device, planned))
        write_device_digest(path, digest)
        digests.append(path)
    elsewhere = [paths.conversion_record(w, f) for _, w, f in settings["elsewhere"]]
    conversions = [p for p in [*inputs["conversions"], *elsewhere] if Path(p).exists()]
    images = [p for p in images if Path(p).exists()]
    report = load_report(paths.TABLE_PARQUET, digests, conversions, images, context)
    return report.write(paths.REPORT)


def read_device(path: str) -> str | None:
    """The device a raw log's header names; None when there is no complete log."""
    if not Path(path).exists():
        return None
    return read_header(path).get("device")


def summary(table: pd.DataFrame, top: int = 3) -> str:
    """Counts of ok / unsupported / failed rows per device, and the most common reasons."""
    lines = ["edgebench summary (rows of results/tables/results.csv):"]
    for device, rows in table.groupby("device", sort=False):
        counts = Counter(rows["status"].fillna("failed"))
        figures = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("ok", "unsupported", "failed"))
        lines.append(f"  {device}: {figures}")
        reasons = Counter(
            shorten(reason) for reason in rows.loc[rows["status"].ne("ok"), "reason"].dropna()
        )
        for reason, count in reasons.most_common(top):
            lines.append(f"      {count} x {reason}")
    failed = int(table["status"].eq("failed").sum())
    if failed:
        lines.append(
            f"  {failed} failed row(s): fix what the reasons say and run the same command "
            "again; a run or build that failed runs again by itself (see README, Reruns)."
        )
    return "\n".join(lines)


def failed_rows_message(table: pd.DataFrame, selected: list[Key], top: int = 10) -> str:
    """Why the last step fails: rows of the selection that failed although their jobs
    succeeded (a converter that crashed, a batch size that failed inside a complete run);
    '' when none. These outputs exist, so they run again only once deleted: it names them."""
    keys = table[["device", "workload", "format"]].apply(tuple, axis=1)
    failed = table[keys.isin(set(map(tuple, selected))) & table["status"].eq("failed")]
    if failed.empty:
        return ""
    lines = [f"edgebench: {len(failed)} selected row(s) FAILED (the exit status says so):"]
    remove = []
    for row in failed.head(top).itertuples():
        batch = "" if pd.isna(row.batch) else f" batch {int(row.batch)}"
        lines.append(f"  {row.device}/{row.workload}/{row.format}{batch}: {shorten(row.reason)}")
        if str(row.reason).startswith("conversion:"):
            remove.append(paths.conversion_record(row.workload, row.format))
        else:
            remove.append(paths.raw_log(row.device, row.workload, row.format))
    if len(failed) > top:
        lines.append(f"  ... and {len(failed) - top} more (results/tables/results.csv)")
    lines.append(
        "  Their outputs exist, so the same command redoes none of them (and fails here "
        "again): fix what the reasons say, then delete them and run again: "
        f"rm {' '.join(dict.fromkeys(remove))}"
    )
    return "\n".join(lines)


def shorten(reason: str, width: int = 160) -> str:
    reason = " ".join(str(reason).split())
    return reason if len(reason) <= width else reason[: width - 3] + "..."
