"""NeurIO blocks: a latency heatmap per block group, and every block result."""

from __future__ import annotations

from edgebench.report import plots
from edgebench.report.page import Charts, Column, Section, data_table, esc, lead, note
from edgebench.report.sections.common import (
    GROUP_TITLES,
    IDENTITY_STATUS,
    LATENCY,
    RUNTIME,
    did_not_run,
    groups,
    outlier_note,
    present,
)


def section(report, charts: Charts) -> Section:
    table = report.table
    group_of = groups(table)
    drawn = [g for g in ("layer-blocks", "cell-blocks") if group_of.eq(g).any()]
    if not drawn:
        return Section(
            "blocks", "NeurIO blocks", note("No NeurIO block in this report (suite: models only).")
        )
    parts = [
        lead(
            "Median latency of each block configuration on each device and format (NeurIO), "
            "colour on a log scale. Grey cells are unsupported (the converter or the device "
            "cannot run the block), red cells failed; hover for the reason."
        )
    ]
    for group in drawn:
        parts.append(f"<h3>{esc(GROUP_TITLES[group])}</h3>")
        parts.append(charts(plots.block_latency_heatmap(table, group), f"heatmap-{group}"))
    rows = table[group_of.str.endswith("blocks")]
    columns = [*IDENTITY_STATUS, Column("group", "group"), *LATENCY, *present(rows, RUNTIME)]
    parts.append("<h3>All block results</h3>")
    parts.append(did_not_run(rows))
    parts.append(data_table(rows, columns, "blocks-table"))
    parts.append(outlier_note(rows))
    return Section("blocks", "NeurIO blocks", "".join(parts))
