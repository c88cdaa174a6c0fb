"""Across devices (dlmark): each model's throughput on every device."""

from __future__ import annotations

from edgebench.report import figures
from edgebench.report.page import Charts, Section, lead, note
from edgebench.report.rows import model_rows, ok_rows


def section(report, charts: Charts) -> Section:
    rows = ok_rows(model_rows(report.table))
    if rows.empty:
        return Section("devices", "Across devices", note("No model ran on any device."))
    parts = []
    if report.table["device"].nunique() < 2:
        parts.append(
            note(
                "Only one device in this report: run with more (e.g. --config "
                "devices=local,jetson) to compare them here."
            )
        )
    drawn = [
        charts(figures.throughput_vs_device(report.table, model), f"devices-{model}")
        for model in dict.fromkeys(rows["workload"])
    ]
    parts.append(lead("Throughput of each model on every device, per batch size (dlmark)."))
    parts.append(f'<div class="grid">{"".join(drawn)}</div>')
    return Section("devices", "Across devices", "".join(parts))
