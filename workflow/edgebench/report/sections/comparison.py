"""Against a baseline (``--config baseline=PATH``): each row's verdict, as ``edgebench compare``
decides it; no section without a baseline."""

from __future__ import annotations

from edgebench.report.page import Charts, Column, Section, data_table, esc, lead, note

COLUMNS = [
    Column("device", "device"),
    Column("workload", "workload"),
    Column("format", "format"),
    Column("batch", "batch", "int"),
    Column("old_median_ms", "baseline median", "ms", "median latency in the baseline"),
    Column("new_median_ms", "this run median", "ms", "median latency in this run"),
    Column("ratio", "ratio", "num", "this run's median / the baseline's"),
    Column(
        "verdict", "verdict", help="slower / faster only when significant and beyond the factor"
    ),
    Column("test", "decided by", help="the test that decided significance"),
    Column("accuracy", "accuracy", help="top-1 change: dropped, improved or same"),
    Column("accuracy_change", "top-1 change", "pp"),
    Column("power", "power", help="power_w: higher, lower or same"),
    Column("notes", "notes", "wrap", "what differs between the two runs"),
]


def _regressed_cell(row) -> tuple:
    if row.get("regressed"):
        return 1, '<span class="badge failed">regressed</span>'
    return 0, ""


def section(report, charts: Charts) -> Section | None:
    baseline = report.context.get("baseline")
    if not baseline:
        return None
    title = "Against the baseline"
    comparison = report.comparison
    if comparison is None:
        error = report.comparison_error or "not compared"
        return Section(
            "baseline", title, note(f"The baseline {baseline} could not be read: {error}")
        )
    parts = [
        lead(
            f"This run against the baseline, row by row, as <code>edgebench compare</code> "
            f"decides it. {esc(comparison.settings)}."
        ),
        f"<p>baseline: <code>{esc(comparison.old)}</code><br>"
        f"this run: <code>{esc(comparison.new)}</code></p>",
        f"<p><strong>{esc(comparison.summary)}</strong></p>",
        data_table(
            comparison.frame,
            [Column("regressed", "", "text", "", render=_regressed_cell), *COLUMNS],
            "baseline-table",
        ),
    ]
    return Section("baseline", title, "".join(parts))
