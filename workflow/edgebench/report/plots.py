"""The report's own charts: block heatmaps, latency distributions, device rankings, power.

dlmark's figures, which API users call too, are in ``edgebench.report.figures``. Every label is
HTML-escaped before it reaches Plotly, which would otherwise read tags in it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from edgebench.report import theme
from edgebench.report.page import duration
from edgebench.report.rows import flags, ordered, require
from edgebench.report.theme import label

# --- NeurIO blocks --------------------------------------------------------------------------------


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
    require(data, "workload", "device", "format", "batch", "status", "latency_ms_median")
    rows = data[data["group"].eq(group)] if "group" in data.columns else data
    rows = rows[rows["batch"].isna() | rows["batch"].eq(batch)]
    if rows.empty:
        return theme.empty(f"No {group} in this report")
    blocks = ordered(rows["workload"])
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
            text[i, j] = duration(r.latency_ms_median)
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
                    "ticktext": [duration(10.0**t) for t in ticks],
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
        return theme.empty("No run has samples")
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
        (True, theme.UNSTABLE, "unstable (robust CV > 10% or processes apart)"),
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
    _add_process_medians(figure, boxes)
    figure.update_layout(
        title=title,
        showlegend=True,
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"},
    )
    figure.update_xaxes(type="log", title_text="latency (ms), all raw samples")
    figure.update_yaxes(autorange="reversed", categoryorder="array", categoryarray=names)
    return theme.styled(figure, max(240, 22 * len(boxes) + 150))


def _add_process_medians(figure: go.Figure, boxes: pd.DataFrame) -> None:
    """Each fresh process's median as a marker on its run's box, and the median's 95% interval
    as an error bar: the drift between processes beside the noise within one."""
    xs, ys, texts = [], [], []
    for row in boxes.to_dict("records"):
        medians = row.get("process_medians")
        if not isinstance(medians, list) or len(medians) < 2:
            continue
        for index, median in enumerate(medians):
            xs.append(median)
            ys.append(row["_name"])
            texts.append(f"process {index}: median {duration(median)}")
    if xs:
        figure.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name="median of each process",
                marker={"symbol": "diamond-open", "size": 9, "color": theme.MUTED},
                text=texts,
                hoverinfo="text",
            )
        )
    if "ci_low" not in boxes:
        return
    interval = boxes.dropna(subset=["ci_low", "ci_high"])
    if interval.empty:
        return
    figure.add_trace(
        go.Scatter(
            x=interval["median"],
            y=interval["_name"],
            mode="markers",
            name="median, 95% interval",
            marker={"symbol": "line-ns", "size": 12, "color": theme.INK, "line": {"width": 2}},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": interval["ci_high"] - interval["median"],
                "arrayminus": interval["median"] - interval["ci_low"],
                "color": theme.INK,
                "thickness": 2,
                "width": 6,
            },
            hovertemplate="median %{x:.4g} ms<extra>95% interval of the median</extra>",
        )
    )


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
        return theme.empty(f"No {axis} figure")
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


def power_trace(trace: dict) -> go.Figure:
    """One run's power samples over time, its timed windows shaded (one per batch size and
    process) and its idle window hatched; a dict of device, workload, format and
    ``data.power_trace``'s fields."""
    figure = go.Figure(
        go.Scatter(
            x=trace["time_s"],
            y=trace["watts"],
            mode="lines+markers",
            marker={"size": 3},
            name=f"{trace.get('source', 'power')} samples",
            line={"color": theme.STABLE, "width": 1.5},
        )
    )
    for start, end, batch, process in trace.get("windows") or []:
        figure.add_vrect(
            x0=start,
            x1=end,
            fillcolor=theme.STABLE,
            opacity=0.12,
            line_width=0,
            annotation_text=f"b{batch}" + (f"·p{process}" if process else ""),
            annotation_position="top left",
            annotation_font_size=9,
        )
    if trace.get("idle"):
        start, end = trace["idle"]
        figure.add_vrect(
            x0=start, x1=end, fillcolor=theme.MUTED, opacity=0.15, line_width=0,
            annotation_text="idle", annotation_position="top left", annotation_font_size=9,
        )  # fmt: skip
    name = f"{trace['device']} · {trace['workload']} · {trace['format']}"
    figure.update_layout(title=f"Power: {label(name)}", showlegend=False)
    figure.update_xaxes(title_text="time since the first sample (s); shaded: timed windows")
    figure.update_yaxes(title_text="power (W)", rangemode="tozero")
    return theme.styled(figure, 320)
