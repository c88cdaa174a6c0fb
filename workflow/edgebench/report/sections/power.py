"""Power: mean power, energy per inference and efficiency, or why there are none."""

from __future__ import annotations

import pandas as pd

from edgebench.report import plots
from edgebench.report.page import Charts, Column, Section, data_table, esc, lead, note
from edgebench.report.sections.common import IDENTITY, POWER, has, power_present, present

CHARTS = (  # column, title, axis
    ("power_w", "Mean power during the timed runs", "W"),
    ("energy_per_inference_mj", "Energy per inference", "mJ"),
    ("efficiency_ips_per_w", "Efficiency", "images/s/W"),
)


def section(report, charts: Charts) -> Section:
    table = report.table
    traces = report.power_traces()
    if not power_present(table) and not traces:
        return Section("power", "Power", _no_power(table))
    parts = [
        lead(
            "Mean power over the timed window, energy per inference and efficiency "
            "(images/s/W), at batch 1, where the device has a power source."
        )
    ]
    rows = table[table["batch"].eq(1)] if "batch" in table else table
    for column, title, axis in CHARTS:
        if has(rows, column):
            parts.append(charts(plots.power_bars(rows, column, title, axis), f"power-{column}"))
    for index, trace in enumerate(traces):
        parts.append(charts(plots.power_trace(trace), f"power-trace-{index}"))
    columns = [*IDENTITY, *present(table, POWER), Column("idle_power_w", "idle power", "w")]
    parts.append(data_table(table[table["power_w"].notna()], columns, "power-table"))
    return Section("power", "Power", "".join(parts))


def _no_power(table: pd.DataFrame) -> str:
    """The note that no device measures power, with each device's reason."""
    notes = (
        table[["device", "power_note"]].dropna().drop_duplicates("device")
        if "power_note" in table
        else pd.DataFrame(columns=["device", "power_note"])
    )
    listed = "".join(
        f"<li><strong>{esc(r.device)}</strong>: {esc(r.power_note)}</li>"
        for r in notes.itertuples()
    )
    return note(
        "No device in this report measures power, so this report has no power, energy or "
        "efficiency figures. None is estimated or filled in."
    ) + (f"<ul>{listed}</ul>" if listed else "")
