"""The cost of this run, as the provenance section shows it: Snakemake's benchmark of every
measured job (edgebench.metrics.cost), summed per rule, format and device, and the slowest jobs.

The jobs are the report's context["jobs"] (``cost.workflow_jobs``, from the workflow); their
TSVs are no inputs of the report rule: they exist once the jobs the report depends on ran, and
a job whose TSV is missing is counted and named, never given a figure.
"""

from __future__ import annotations

from edgebench import paths
from edgebench.metrics import cost
from edgebench.report.page import Column, data_table, esc, note

SHOWN_MISSING = 12  # jobs without figures named in the note; the rest are counted
SECONDS = Column("s", "seconds", "num", "wall-clock seconds (Snakemake's benchmark 's')")
CPU = Column(
    "cpu_time",
    "CPU seconds",
    "num",
    "user + system CPU seconds of the job's processes as Snakemake last sampled them (every "
    "0.5 s, then 30 s): a lower bound, missing what ran after a process's last sample",
)
RSS = Column(
    "max_rss",
    "peak RSS (MiB)",
    "num",
    "largest resident memory of one job at Snakemake's samples (max_rss): a lower bound",
)
SUM_COLUMNS = [  # the seconds first: in a narrow window they are what shows
    SECONDS,
    Column("jobs", "jobs", "int", ""),
    Column("measured", "measured", "int", "jobs with a benchmark file"),
    Column("missing", "no figures", "int", "jobs without figures (see the note)"),
    Column("unmeasured", "why no figures", "wrap-all", ""),
    CPU,
    RSS,
]


def run_cost(report) -> str:
    """HTML: the note on what is measured, the sums and the slowest jobs, or why there are none."""
    parts = ["<h3>Cost of this run</h3>"]
    jobs = report.context.get("jobs")
    if not jobs:
        parts.append(
            note(
                "No job list: this report was built outside the workflow, so the cost of its "
                "jobs (results/benchmarks/) is not known here."
            )
        )
        return "".join(parts)
    costs = cost.job_costs(jobs, after_page=True)
    totals = cost.total(costs)
    measured_rules = ", ".join(rule for rule in paths.BENCHMARKED if rule != "report")
    summary = (
        f"{totals['measured']} of {totals['jobs']} jobs measured"
        + (f", {_seconds(totals['s'])} s in all" if totals["measured"] else "")
        + ". "
    )
    parts.append(
        note(
            summary + "Wall-clock seconds, and CPU seconds and peak memory as sampled (lower "
            "bounds), of each workflow job as Snakemake's benchmark measured it "
            "(results/benchmarks/), for the rules "
            f"{measured_rules}; the other rules (datasets, images, tables) are not measured. A "
            "job that did not run again this time keeps the figures of its last run. The "
            "report's own job is measured by Snakemake after this page is written "
            f"({paths.benchmark('report')}), so the page cannot include it. A job run in a "
            "child of the warm server (workload builds, reference outputs, conversions with "
            "containers: none; the default) has its wall-clock seconds here, but its CPU "
            "seconds and memory are its own process's, not the child's that did the work: the "
            "job's log names the child's."
        )
    )
    without = costs[~costs["status"].isin([cost.MEASURED, cost.AFTER_PAGE])]
    if len(without):
        named = "; ".join(
            f"{row.job} ({row.status})" for row in without.head(SHOWN_MISSING).itertuples()
        )
        more = len(without) - SHOWN_MISSING
        parts.append(
            note(
                f"{len(without)} job{'s' if len(without) != 1 else ''} without figures (a job "
                "that ran before its rule was measured, or has not finished): "
                + named
                + (f"; and {more} more." if more > 0 else ".")
            )
        )
    for by, title in (("rule", "per rule"), ("format", "per format"), ("device", "per device")):
        frame = cost.summarize(costs, by)
        if frame.empty:
            continue
        parts.append(f"<h5>Seconds {esc(title)}</h5>")
        columns = [Column(by, by, "text", ""), *SUM_COLUMNS]
        parts.append(data_table(frame, columns, f"cost-{by}-table", searchable=False))
    top = cost.slowest(costs)
    if len(top):
        parts.append("<h5>Slowest jobs</h5>")
        columns = [Column("job", "job (rule, wildcards)", "wrap-all", ""), SECONDS, CPU, RSS]
        parts.append(data_table(top, columns, "cost-slowest-table", searchable=False))
    return "".join(parts)


def _seconds(value: float) -> str:
    return f"{value:,.1f}"
