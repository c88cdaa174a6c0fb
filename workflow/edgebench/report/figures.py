"""dlmark's figures of the result table, for the report and for notebooks.

Each takes the tidy table (``results.parquet``, or ``edgebench.load_results()``) and returns a
``plotly.graph_objects.Figure``; all four are also importable as ``from edgebench import ...``:

- ``batch_size_vs_throughput_grid(data, models=None)``: one small chart per model, throughput
  against batch size (log axis), a line per device x format;
- ``max_batch_size(data)``: the largest batch that ran, per model, format and device;
- ``throughput_vs_device(data, model=None)``: one model's throughput on every device;
- ``throughput_vs_accuracy(data)``: one point per model x format x device, coloured by family.

Only rows with status ``ok`` are drawn; an absent figure is left out, never drawn as zero. Every
label is HTML-escaped before it reaches Plotly, which would otherwise read tags in it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from edgebench.report import theme
from edgebench.report.rows import format_names, model_rows, ok_rows, ordered, require
from edgebench.report.theme import DASHES, SYMBOLS, THROUGHPUT_TITLE, label

__all__ = [
    "batch_size_vs_throughput_grid",
    "max_batch_size",
    "throughput_vs_accuracy",
    "throughput_vs_device",
]


def _batch_ticks(batches) -> dict:
    values = sorted({int(b) for b in batches})
    return {"tickvals": values, "ticktext": [str(v) for v in values]}


# --- dlmark: throughput against batch size --------------------------------------------------------


def batch_size_vs_throughput_grid(
    data: pd.DataFrame, models: list[str] | None = None, columns: int = 3
) -> go.Figure:
    """A grid of small charts, one per model: throughput against batch size (log axis).

    One line per device x format: colour = format, dash and marker = device.
    """
    require(data, "workload", "device", "format", "batch")
    rows = ok_rows(data if models else model_rows(data))
    models = list(models) if models else ordered(rows["workload"])
    rows = rows[rows["workload"].isin(models)]
    if rows.empty:
        return theme.empty("No model ran at more than one batch size")
    models = [m for m in models if m in set(rows["workload"])]
    columns = max(1, min(columns, len(models)))
    grid_rows = math.ceil(len(models) / columns)
    figure = make_subplots(
        rows=grid_rows,
        cols=columns,
        subplot_titles=[label(m) for m in models],
        horizontal_spacing=0.08,
        vertical_spacing=min(0.12, 0.4 / grid_rows),
    )
    devices = ordered(sorted(rows["device"].unique()))
    colours = theme.format_colours(rows["format"])
    shown = set()
    for index, model in enumerate(models):
        row, col = divmod(index, columns)
        subset = rows[rows["workload"].eq(model)]
        for (device, fmt), line in subset.groupby(["device", "format"], sort=True):
            line = line.sort_values("batch")
            name = f"{device} · {fmt}"
            position = devices.index(device)
            figure.add_trace(
                go.Scatter(
                    x=line["batch"].astype(int),
                    y=line["throughput_ips"],
                    mode="lines+markers",
                    name=label(name),
                    legendgroup=label(name),
                    showlegend=name not in shown,
                    line={"color": colours[fmt], "dash": DASHES[position % len(DASHES)]},
                    marker={"symbol": SYMBOLS[position % len(SYMBOLS)], "size": 7},
                    customdata=np.array([[label(model), label(device), label(fmt)]] * len(line)),
                    hovertemplate=(
                        "%{customdata[0]} on %{customdata[1]} (%{customdata[2]})<br>"
                        "batch %{x}: %{y:,.4~g} images/s<extra></extra>"
                    ),
                ),
                row=row + 1,
                col=col + 1,
            )
            shown.add(name)
        figure.update_xaxes(
            type="log", row=row + 1, col=col + 1, **_batch_ticks(subset["batch"].astype(int))
        )
    figure.update_xaxes(title_text="batch size", row=grid_rows)
    figure.update_yaxes(title_text="images/s", col=1, rangemode="tozero")
    figure.update_layout(title="Throughput against batch size")
    return theme.styled(figure, 250 * grid_rows + 110)


def max_batch_size(data: pd.DataFrame, models: list[str] | None = None) -> go.Figure:
    """The largest batch that ran, per model and format (x) and device (colour)."""
    require(data, "workload", "device", "format", "batch", "status", "max_batch")
    rows = data if models else model_rows(data)
    if models:
        rows = rows[rows["workload"].isin(models)]
    rows = rows[rows["max_batch"].notna()]
    if rows.empty:
        return theme.empty("No model ran, so there is no largest batch to show")
    largest_tried = rows.groupby("workload")["batch"].max()
    failed = rows[rows["status"].eq("failed") & rows["batch"].notna()]
    failures = {
        (r.device, r.workload, r.format): (int(r.batch), str(r.reason or ""))
        for r in failed.itertuples()
    }
    firsts = rows.drop_duplicates(["device", "workload", "format"])
    colours = theme.device_colours(firsts["device"])
    figure = go.Figure()
    order = ordered(firsts["workload"])
    for device, bars in firsts.groupby("device", sort=True):
        bars = bars.assign(
            _w=bars["workload"].map(order.index), _f=bars["format"].map(theme.format_order)
        ).sort_values(["_w", "_f"])
        notes = []
        for bar in bars.itertuples():
            failure = failures.get((bar.device, bar.workload, bar.format))
            if failure:
                notes.append(f"batch {failure[0]} failed: {failure[1][:120]}")
            elif int(bar.max_batch) >= int(largest_tried[bar.workload]):
                notes.append("the largest batch size the sweep tried")
            else:
                notes.append("")
        figure.add_trace(
            go.Bar(
                x=[[label(w) for w in bars["workload"]], [label(f) for f in bars["format"]]],
                y=bars["max_batch"].astype(int),
                name=label(device),
                marker={"color": colours[device]},
                customdata=np.array([[label(device), label(note)] for note in notes]),
                hovertemplate=(
                    "%{customdata[0]}: largest batch %{y}<br>%{customdata[1]}<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        title="Largest batch that ran (the sweep stops at the first failure or its cap)",
        barmode="group",
        bargap=0.25,
        legend_title_text="device",
    )
    figure.update_yaxes(title_text="batch size", rangemode="tozero")
    return theme.styled(figure, 380)


# --- dlmark: throughput across devices, accuracy against throughput -------------------------------


def throughput_vs_device(
    data: pd.DataFrame, model: str | None = None, batch: int | None = None
) -> go.Figure:
    """One model's throughput on every device, per batch size (x) and format (colour)."""
    require(data, "workload", "device", "format", "batch")
    rows = ok_rows(data)
    if model is None:
        names = ordered(model_rows(rows)["workload"]) or ordered(rows["workload"])
        if len(names) != 1:
            raise ValueError(f"name the model to draw, one of {names}")
        model = names[0]
    rows = rows[rows["workload"].eq(model)]
    if batch is not None:
        rows = rows[rows["batch"].eq(batch)]
    if rows.empty:
        return theme.empty(f"{model} has no successful run to compare")
    colours = theme.format_colours(rows["format"])
    figure = go.Figure()
    for fmt in format_names(rows["format"]):
        bars = rows[rows["format"].eq(fmt)].sort_values(["device", "batch"])
        batches = [f"batch {int(b)}" for b in bars["batch"]]
        figure.add_trace(
            go.Bar(
                x=[[label(d) for d in bars["device"]], batches],
                y=bars["throughput_ips"],
                name=label(fmt),
                marker={"color": colours[fmt]},
                customdata=np.array([[label(d), label(fmt)] for d in bars["device"]]),
                hovertemplate=(
                    "%{customdata[0]} (%{customdata[1]}), %{x[1]}<br>"
                    "%{y:,.4~g} images/s<extra></extra>"
                ),
            )
        )
    figure.update_layout(
        title=f"Throughput of {label(model)} across devices",
        barmode="group",
        legend_title_text="format",
    )
    figure.update_yaxes(title_text=THROUGHPUT_TITLE, rangemode="tozero")
    return theme.styled(figure, 340)


def throughput_vs_accuracy(data: pd.DataFrame, batch: int | None = 1) -> go.Figure:
    """Top-1 accuracy against throughput: a point per model x format x device, colour = family."""
    require(data, "workload", "device", "format", "batch", "family", "accuracy_top1")
    rows = ok_rows(data)
    rows = rows[rows["accuracy_top1"].notna()]
    if batch is not None:
        rows = rows[rows["batch"].eq(batch)]
    if rows.empty:
        return theme.empty("No workload has an accuracy figure")
    rows = rows.assign(family=rows["family"].fillna("unknown").astype(str))
    colours = theme.family_colours(rows["family"])
    devices = sorted(rows["device"].unique())
    drop = rows["accuracy_drop"] if "accuracy_drop" in rows else pd.Series(np.nan, rows.index)
    rows = rows.assign(drop_text=drop.map(lambda v: "" if pd.isna(v) else f"{v:+.3f}"))
    figure = go.Figure()
    for family, points in rows.groupby("family", sort=True):
        figure.add_trace(
            go.Scatter(
                x=points["throughput_ips"],
                y=points["accuracy_top1"],
                mode="markers",
                name=label(family),
                marker={
                    "color": colours[family],
                    "size": 11,
                    "line": {"color": "white", "width": 1},
                    "symbol": [SYMBOLS[devices.index(d) % len(SYMBOLS)] for d in points["device"]],
                },
                customdata=np.array(
                    [
                        [label(r.workload), label(r.format), label(r.device), r.drop_text]
                        for r in points.itertuples()
                    ]
                ),
                hovertemplate=(
                    "%{customdata[0]} · %{customdata[1]} on %{customdata[2]}<br>"
                    "top-1 %{y:.4f} (drop %{customdata[3]})<br>"
                    "%{x:,.4~g} images/s<extra></extra>"
                ),
            )
        )
    batch_note = f" at batch {batch}" if batch is not None else ""
    figure.update_layout(
        title=f"Accuracy against throughput{batch_note} (colour: model family)",
        legend_title_text="family",
        showlegend=True,
    )
    low, high = rows["accuracy_top1"].min(), rows["accuracy_top1"].max()
    figure.update_xaxes(title_text=THROUGHPUT_TITLE, type="log")
    figure.update_yaxes(
        title_text="top-1 accuracy", range=[max(0.0, low - 0.05), min(1.0, high) + 0.02]
    )
    return theme.styled(figure, 440)
