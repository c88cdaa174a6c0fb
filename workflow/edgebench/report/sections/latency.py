"""Latency distributions: box plots of every raw sample, and the list of unstable runs."""

from __future__ import annotations

from edgebench.report import plots, summary
from edgebench.report.page import Charts, Column, Section, data_table, lead, note
from edgebench.report.sections.common import (
    CV_HELP,
    GROUP_TITLES,
    IDENTITY,
    IQR_HELP,
    cv_cell,
    outlier_note,
    relative_iqr_cell,
)

UNSTABLE_COLUMNS = [
    *IDENTITY[:3],
    Column("unstable_batches", "unstable at batch"),
    Column("batch", "largest CV at batch", "int", "the unstable batch whose CV is largest"),
    Column("latency_cv", "CV", "cv", CV_HELP, render=cv_cell),
    Column("latency_ms_median", "median ms", "ms"),
    Column("latency_ms_iqr", "IQR / median", "pct", IQR_HELP, render=relative_iqr_cell),
    Column("latency_ms_min", "min ms", "ms"),
    Column("latency_ms_max", "max ms", "ms"),
    Column("runs", "samples", "int"),
]


def section(report, charts: Charts) -> Section:
    boxes = report.box_frame()
    parts = [
        lead(
            "Box plots from every raw timed sample (box: quartiles, whiskers: 1.5 IQR, dashed: "
            "mean) at each run's smallest batch; a box is red when that batch's robust CV is "
            "above 10% (pyperf's threshold). Every run unstable at any batch size is listed below."
        )
    ]
    if boxes.empty:
        parts.append(note("No run has raw samples to draw."))
    else:
        for device, per_device in boxes.groupby("device", sort=True):
            for group, rows in per_device.groupby("group", sort=False):
                title = f"{device}: {GROUP_TITLES.get(group, group)}"
                parts.append(charts(plots.latency_boxes(rows, title), f"latency-{device}-{group}"))
    unstable = summary.unstable_runs(report.table)
    parts.append(f'<h3 id="unstable-runs">Unstable runs: {len(unstable)}</h3>')
    if unstable.empty:
        parts.append(note("No run was unstable: every coefficient of variation is at most 10%."))
    else:
        parts.append(
            lead(
                "One row per run (device × workload × format) whose CV is above 10% at one "
                "batch size or more, the count the overview shows; the figures are those of "
                "its batch with the largest CV. Unstable figures are less trustworthy."
            )
        )
        parts.append(data_table(unstable, UNSTABLE_COLUMNS, "unstable-table"))
        parts.append(outlier_note(unstable))
    return Section("latency", "Latency distributions", "".join(parts))
