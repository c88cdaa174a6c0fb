"""Batch size (dlmark): throughput as the batch grows, and the largest batch that ran."""

from __future__ import annotations

from edgebench.report import figures
from edgebench.report.page import Charts, Section, lead, note
from edgebench.report.rows import model_rows, ok_rows


def section(report, charts: Charts) -> Section:
    rows = ok_rows(model_rows(report.table))
    if rows.empty:
        body = note("No model ran, so there is no batch sweep to show.")
    else:
        body = (
            lead(
                "Throughput as the batch grows (dlmark): one small chart per model, colour = "
                "format, line style = device. The sweep stops at the first batch that fails."
            )
            + charts(figures.batch_size_vs_throughput_grid(report.table), "batch-grid")
            + charts(figures.max_batch_size(report.table), "max-batch")
        )
    return Section("batch", "Batch size", body)
