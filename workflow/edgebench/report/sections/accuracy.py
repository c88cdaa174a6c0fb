"""Accuracy vs throughput (dlmark): a point per model x format x device at batch 1."""

from __future__ import annotations

from edgebench.report import figures
from edgebench.report.page import Charts, Section, lead, note
from edgebench.report.rows import ok_rows


def section(report, charts: Charts) -> Section:
    rows = ok_rows(report.table)
    rows = rows[rows["accuracy_top1"].notna()] if "accuracy_top1" in rows else rows.iloc[0:0]
    if rows.empty:
        body = note(
            "No workload in this report has an accuracy figure: accuracy is measured for models "
            "with a labelled dataset (such as digits-cnn), so there is nothing to plot."
        )
    else:
        body = lead(
            "One point per model x format x device at batch 1, coloured by model family "
            "(dlmark); the marker shape tells devices apart."
        ) + charts(figures.throughput_vs_accuracy(report.table), "accuracy-vs-throughput")
    return Section("accuracy", "Accuracy vs throughput", body)
