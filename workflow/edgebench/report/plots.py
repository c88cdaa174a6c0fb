"""Plotly figures of the result table, as dlmark draws them, and the report's other charts.

The four dlmark helpers take the tidy table (``results.parquet``, or ``load_results()``) and
return a ``plotly.graph_objects.Figure``:

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
from edgebench.report.theme import label

DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star", "hexagon", "cross"]
THROUGHPUT_TITLE = "throughput (images/s)"


# --- selections -----------------------------------------------------------------------------------


def _require(data: pd.DataFrame, *columns: str) -> None:
    missing = [column for column in columns if column not in data.columns]
    if missing:
        raise ValueError(f"the data has no column {missing}; pass the result table")


def ok_rows(data: pd.DataFrame) -> pd.DataFrame:
    """Rows that ran, with a throughput."""
    _require(data, "status", "throughput_ips")
    rows = data[data["status"].eq("ok") & data["throughput_ips"].notna()]
    return rows.copy()


def flags(values: pd.Series) -> pd.Series:
    """A boolean column with absent values as False."""
    return values.astype("boolean").fillna(False).astype(bool)


def model_rows(data: pd.DataFrame) -> pd.DataFrame:
    """Whole models (not NeurIO blocks), when the table says which is which."""
    if "group" in data.columns:
        return data[data["group"].eq("models")]
    return data


def _ordered(values) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values))


def _formats(values) -> list[str]:
    return sorted({str(v) for v in values}, key=theme.format_order)


def _empty(message: str, height: int = 260) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(
        text=label(message), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return theme.styled(figure, height)


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
    _require(data, "workload", "device", "format", "batch")
    rows = ok_rows(data if models else model_rows(data))
    models = list(models) if models else _ordered(rows["workload"])
    rows = rows[rows["workload"].isin(models)]
    if rows.empty:
        return _empty("No model ran at more than one batch size")
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
    devices = _ordered(sorted(rows["device"].unique()))
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
    _require(data, "workload", "device", "format", "batch", "status", "max_batch")
    rows = data if models else model_rows(data)
    if models:
        rows = rows[rows["workload"].isin(models)]
    rows = rows[rows["max_batch"].notna()]
    if rows.empty:
        return _empty("No model ran, so there is no largest batch to show")
    largest_tried = rows.groupby("workload")["batch"].max()
    failed = rows[rows["status"].eq("failed") & rows["batch"].notna()]
    failures = {
        (r.device, r.workload, r.format): (int(r.batch), str(r.reason or ""))
        for r in failed.itertuples()
    }
    firsts = rows.drop_duplicates(["device", "workload", "format"])
    colours = theme.device_colours(firsts["device"])
    figure = go.Figure()
    order = _ordered(firsts["workload"])
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
    _require(data, "workload", "device", "format", "batch")
    rows = ok_rows(data)
    if model is None:
        names = _ordered(model_rows(rows)["workload"]) or _ordered(rows["workload"])
        if len(names) != 1:
            raise ValueError(f"name the model to draw, one of {names}")
        model = names[0]
    rows = rows[rows["workload"].eq(model)]
    if batch is not None:
        rows = rows[rows["batch"].eq(batch)]
    if rows.empty:
        return _empty(f"{model} has no successful run to compare")
    colours = theme.format_colours(rows["format"])
    figure = go.Figure()
    for fmt in _formats(rows["format"]):
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
    _require(data, "workload", "device", "format", "batch", "family", "accuracy_top1")
    rows = ok_rows(data)
    rows = rows[rows["accuracy_top1"].notna()]
    if batch is not None:
        rows = rows[rows["batch"].eq(batch)]
    if rows.empty:
        return _empty("No workload has an accuracy figure")
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


# --- NeurIO blocks --------------------------------------------------------------------------------


def _latency_text(ms: float) -> str:
    if ms >= 100:
        return f"{ms:,.0f} ms"
    if ms >= 1:
        return f"{ms:.3g} ms"
    return f"{ms * 1000:.3g} µs"


def _log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 steps (log10 of ms) inside [low, high]; the two ends when none falls inside."""
    ticks = [
        math.log10(m * 10.0**k)
        for k in range(math.floor(low) - 1, math.ceil(high) + 1)
        for m in (1, 2, 5)
        if low - 1e-9 <= math.log10(m * 10.0**k) <= high + 1e-9
    ]
    return ticks if len(ticks) >= 2 else [low, high] if high > low else [low]


def block_latency_heatmap(
    data: pd.DataFrame, group: str = "layer-blocks", batch: int = 1
) -> go.Figure:
    """Median latency per block configuration (rows) and device x format (columns).

    Colour is log-scaled latency; a cell the device or converter could not run says
    ``unsupported`` (grey) or ``failed`` (red) instead, with its reason on hover.
    """
    _require(data, "workload", "device", "format", "batch", "status", "latency_ms_median")
    rows = data[data["group"].eq(group)] if "group" in data.columns else data
    rows = rows[rows["batch"].isna() | rows["batch"].eq(batch)]
    if rows.empty:
        return _empty(f"No {group} in this report")
    blocks = _ordered(rows["workload"])
    pairs = sorted(
        {(str(d), str(f)) for d, f in zip(rows["device"], rows["format"], strict=True)},
        key=lambda pair: (pair[0], theme.format_order(pair[1])),
    )
    shape = (len(blocks), len(pairs))
    value = np.full(shape, np.nan)
    blocked = np.full(shape, np.nan)
    broken = np.full(shape, np.nan)
    text = np.full(shape, "", dtype=object)
    hover = np.full(shape, "", dtype=object)
    for r in rows.itertuples():
        i, j = blocks.index(str(r.workload)), pairs.index((str(r.device), str(r.format)))
        where = f"{label(r.workload)} on {label(r.device)} ({label(r.format)})"
        if r.status == "ok" and not pd.isna(r.latency_ms_median):
            value[i, j] = math.log10(r.latency_ms_median)
            text[i, j] = _latency_text(r.latency_ms_median)
            hover[i, j] = f"{where}<br>median {text[i, j]}"
        elif r.status in ("unsupported", "failed"):
            target = blocked if r.status == "unsupported" else broken
            target[i, j] = 1.0
            text[i, j] = r.status
            hover[i, j] = f"{where}<br>{r.status}: {label(str(r.reason or ''))[:200]}"
    x = [f"{label(d)}<br>{label(f)}" for d, f in pairs]
    y = [label(b) for b in blocks]
    figure = go.Figure()
    if not np.isnan(value).all():
        ticks = _log_ticks(np.nanmin(value), np.nanmax(value))
        figure.add_trace(
            go.Heatmap(
                z=value,
                x=x,
                y=y,
                text=text,
                customdata=hover,
                texttemplate="%{text}",
                textfont={"size": 10},
                colorscale=theme.HEATMAP_SCALE,
                colorbar={
                    "title": {"text": "median latency"},
                    "tickvals": ticks,
                    "ticktext": [_latency_text(10.0**t) for t in ticks],
                },
                hovertemplate="%{customdata}<extra></extra>",
                hoverongaps=False,
                xgap=2,
                ygap=2,
                name="latency",
            )
        )
    for marks, colour, name in (
        (blocked, theme.UNSUPPORTED, "unsupported"),
        (broken, theme.FAILED, "failed"),
    ):
        if np.isnan(marks).all():
            continue
        figure.add_trace(
            go.Heatmap(
                z=marks,
                x=x,
                y=y,
                text=np.where(np.isnan(marks), "", text),
                customdata=hover,
                texttemplate="%{text}",
                textfont={"size": 10, "color": theme.INK},
                colorscale=[[0, colour], [1, colour]],
                showscale=False,
                hovertemplate="%{customdata}<extra></extra>",
                hoverongaps=False,
                xgap=2,
                ygap=2,
                name=name,
            )
        )
    figure.update_xaxes(side="top", tickangle=0, showgrid=False)
    figure.update_yaxes(autorange="reversed", showgrid=False)
    figure = theme.styled(figure, max(260, 26 * len(blocks) + 150))
    figure.update_layout(
        title={
            "text": f"Median latency at batch {batch}: {label(group)}",
            "y": 0.99,
            "yref": "container",
            "yanchor": "top",
        },
        margin={"t": 100},
    )
    return figure


# --- latency distributions ------------------------------------------------------------------------


def latency_boxes(boxes: pd.DataFrame, title: str = "Latency distribution") -> go.Figure:
    """Box plots (log axis) from exact statistics of every raw sample; unstable runs in red.

    ``boxes`` has one row per run and batch: workload, format, batch, q1, median, q3, lowerfence,
    upperfence, mean, sd, n, cv, unstable (see ``data.box_statistics``).
    """
    if boxes.empty:
        return _empty("No run has samples")
    boxes = boxes.reset_index(drop=True)
    names = [
        f"{label(r.workload)} · {label(r.format)}"
        + (f" · b{int(r.batch)}" if r.batch != 1 else "")
        + (" ⚠ unstable" if r.unstable else "")
        for r in boxes.itertuples()
    ]
    boxes = boxes.assign(_name=names)
    figure = go.Figure()
    for unstable, colour, legend in (
        (False, theme.STABLE, "stable (CV ≤ 10%)"),
        (True, theme.UNSTABLE, "unstable (CV > 10%)"),
    ):
        part = boxes[flags(boxes["unstable"]).eq(unstable)]
        if part.empty:
            continue
        figure.add_trace(
            go.Box(
                y=part["_name"],
                q1=part["q1"],
                median=part["median"],
                q3=part["q3"],
                lowerfence=part["lowerfence"],
                upperfence=part["upperfence"],
                mean=part["mean"],
                orientation="h",
                name=legend,
                marker={"color": colour},
                line={"color": colour, "width": 1.5},
                boxmean=True,
                hoverinfo="x+name",
            )
        )
    figure.update_layout(
        title=title,
        showlegend=True,
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    figure.update_xaxes(type="log", title_text="latency (ms), all raw samples")
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    return theme.styled(figure, max(240, 22 * len(boxes) + 150))


# --- overview, power ------------------------------------------------------------------------------


def device_ranking(scores: pd.DataFrame, value: str, title: str, axis: str) -> go.Figure:
    """Horizontal bars of one score per device, best on top."""
    scores = scores.sort_values(value, ascending=True)
    colours = theme.device_colours(scores["device"])
    figure = go.Figure(
        go.Bar(
            x=scores[value],
            y=[label(d) for d in scores["device"]],
            orientation="h",
            marker={"color": [colours[d] for d in scores["device"]]},
            hovertemplate="%{y}: %{x:,.4~g}<extra></extra>",
        )
    )
    figure.update_layout(title=title, showlegend=False)
    figure.update_xaxes(title_text=axis, rangemode="tozero")
    return theme.styled(figure, max(200, 40 * len(scores) + 110))


def power_bars(data: pd.DataFrame, column: str, title: str, axis: str) -> go.Figure:
    """One power figure (W, mJ, images/s/W) per model x format, a bar per device."""
    rows = data[data[column].notna()]
    if rows.empty:
        return _empty(f"No {axis} figure")
    colours = theme.device_colours(rows["device"])
    figure = go.Figure()
    for device, bars in rows.groupby("device", sort=True):
        figure.add_trace(
            go.Bar(
                x=[[label(w) for w in bars["workload"]], [label(f) for f in bars["format"]]],
                y=bars[column],
                name=label(device),
                marker={"color": colours[device]},
                hovertemplate="%{x[0]} · %{x[1]}: %{y:,.4~g}<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(title=title, barmode="group", legend_title_text="device")
    figure.update_yaxes(title_text=axis, rangemode="tozero")
    return theme.styled(figure, 360)


def power_traces(traces: list[dict]) -> go.Figure:
    """Power samples over the timed window: dicts of device, workload, format, time_s, watts."""
    if not traces:
        return _empty("No power trace was recorded")
    colours = theme.format_colours(t["format"] for t in traces)
    devices = sorted({t["device"] for t in traces})
    figure = go.Figure()
    for trace in traces:
        name = f"{trace['device']} · {trace['workload']} · {trace['format']}"
        dash = DASHES[devices.index(trace["device"]) % len(DASHES)]
        figure.add_trace(
            go.Scatter(
                x=trace["time_s"],
                y=trace["watts"],
                mode="lines",
                name=label(name),
                line={"color": colours[trace["format"]], "width": 1.5, "dash": dash},
            )
        )
    figure.update_layout(title="Power during the timed runs")
    figure.update_xaxes(title_text="time since the first sample (s)")
    figure.update_yaxes(title_text="power (W)", rangemode="tozero")
    return theme.styled(figure, 360)
