"""One look for every chart: colours per device, format and model family, and a Plotly template.

Colours are assigned in a stable order (formats by their known order, devices and families sorted)
so that one device or format has the same colour in every chart of a report.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import plotly.graph_objects as go

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
INK = "#1f2933"
MUTED = "#616e7c"
GRID = "#e4e7eb"
UNSUPPORTED = "#cbd2d9"
FAILED = "#e8a0a0"
UNSTABLE = "#d64545"
STABLE = "#3e7cb1"

# Okabe-Ito and Tableau-like qualitative colours: distinguishable, print well.
DEVICE_PALETTE = [
    "#3e7cb1",
    "#e07b39",
    "#3fa34d",
    "#c94c4c",
    "#8461b5",
    "#8c6d5a",
    "#d771b0",
    "#6b7a8f",
    "#b5a642",
    "#2ab7ca",
]
FAMILY_PALETTE = [
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
    "#1f78b4",
    "#b2df8a",
]
EXTRA_FORMAT_PALETTE = ["#9d755d", "#bab0ac", "#ff9da6", "#79706e"]
HEATMAP_SCALE = "Viridis"
# Lines and markers that tell devices apart where colour already stands for something else.
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star", "hexagon", "cross"]
THROUGHPUT_TITLE = "throughput (images/s)"


def label(value) -> str:
    """Text for a chart: Plotly reads a few HTML tags in labels, so escape everything."""
    return html.escape(str(value), quote=False)


def _assign(names: Iterable[str], palette: list[str]) -> dict[str, str]:
    unique = sorted({str(n) for n in names})
    return {name: palette[index % len(palette)] for index, name in enumerate(unique)}


def device_colours(devices: Iterable[str]) -> dict[str, str]:
    return _assign(devices, DEVICE_PALETTE)


def family_colours(families: Iterable[str]) -> dict[str, str]:
    return _assign(families, FAMILY_PALETTE)


def format_colours(formats: Iterable[str]) -> dict[str, str]:
    """Each format's own colour (its converter declares it, `Format.colour`), else a spare."""
    from edgebench.formats import FORMATS

    colours, extra = {}, 0
    for name in sorted({str(f) for f in formats}, key=format_order):
        if name in FORMATS and FORMATS[name].colour:
            colours[name] = FORMATS[name].colour
        else:
            colours[name] = EXTRA_FORMAT_PALETTE[extra % len(EXTRA_FORMAT_PALETTE)]
            extra += 1
    return colours


def format_order(name: str) -> tuple[int, str]:
    """The converters' order (their `rank`), then formats no installed converter makes."""
    from edgebench.formats import FORMATS

    known = list(FORMATS)
    return (known.index(name) if name in known else len(known), name)


AXIS = {
    "gridcolor": GRID,
    "linecolor": "#9aa5b1",
    "zeroline": False,
    "ticks": "outside",
    "tickcolor": "#9aa5b1",
    "automargin": True,
}

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"family": FONT, "size": 12, "color": INK},
        title={"font": {"size": 14}, "x": 0, "xanchor": "left", "xref": "paper"},
        paper_bgcolor="white",
        plot_bgcolor="white",
        colorway=DEVICE_PALETTE,
        margin={"l": 60, "r": 20, "t": 48, "b": 50},
        hoverlabel={"font": {"family": FONT, "size": 12}},
        legend={"bgcolor": "rgba(255,255,255,0.8)", "font": {"size": 11}},
        xaxis=AXIS,
        yaxis=AXIS,
    )
)


def styled(figure: go.Figure, height: int | None = None) -> go.Figure:
    figure.update_layout(template=TEMPLATE)
    if height is not None:
        figure.update_layout(height=height)
    return figure


def empty(message: str, height: int = 260) -> go.Figure:
    """A chart with nothing to draw: the message in its middle, no axes."""
    figure = go.Figure()
    figure.add_annotation(
        text=label(message), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return styled(figure, height)
