"""Models: one row per device x model x format x batch."""

from __future__ import annotations

from edgebench.report.page import Charts, Column, Section, data_table, lead, note
from edgebench.report.sections.common import (
    ACCURACY,
    IDENTITY_STATUS,
    LATENCY,
    POWER,
    RUNTIME,
    did_not_run,
    groups,
    outlier_note,
    present,
)


def section(report, charts: Charts) -> Section:
    table = report.table
    rows = table[groups(table).eq("models")]
    if rows.empty:
        body = note("No whole model in this report (the suite selected blocks only).")
    else:
        columns = [
            *IDENTITY_STATUS,
            Column("family", "family"),
            *LATENCY,
            *present(rows, ACCURACY),
            *present(rows, POWER),
            *present(rows, RUNTIME),
        ]
        body = (
            lead(
                "One row per device x model x format x batch. Click a header to sort; absent "
                "figures are empty, never zero. “accuracy fail”: the accuracy drop is beyond the "
                "suite's max_accuracy_drop; “CPU fallback”: an accelerator was asked for and "
                "the runtime ran on the CPU, so the figure is not the accelerator's."
            )
            + did_not_run(rows)
            + data_table(rows, columns, "models-table")
            + outlier_note(rows)
        )
    return Section("models", "Models", body)
