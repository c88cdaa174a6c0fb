"""HTML building blocks of the report: escaping, sortable tables, charts and the page itself.

Everything that comes from config, profiles or results passes through ``esc()``; the only markup
in the page is the markup written here. plotly.js is inlined once in the page head, so the page
opens from file:// with no network.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from edgebench.metrics.columns import BY_NAME as CATALOGUE

ASSETS = Path(__file__).with_name("assets")
LONG_TEXT = 160  # longer text cells (reasons) show this much; the whole text on hover
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d"]}


def esc(value) -> str:
    """Any value as HTML text: tags in labels are shown, never interpreted."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def absent(value) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --- number formats -------------------------------------------------------------------------------

SI = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]


def si(value: float, unit: str = "") -> str:
    for scale, prefix in SI:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}".rstrip()


def fmt_number(value: float, digits: int = 4) -> str:
    if abs(value) >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _significant(value: float, digits: int) -> str:
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:#.{digits}g}".rstrip(".")


def duration_unit(ms: float) -> tuple[str, float]:
    """The unit a latency in ms reads best in (ms, µs or ns) and the factor from ms to it."""
    size = abs(ms)
    if size >= 1 or size == 0:
        return "ms", 1.0
    return ("µs", 1e3) if size >= 1e-3 else ("ns", 1e6)


def duration(ms: float, digits: int = 3) -> str:
    """A latency in ms, in the unit that keeps `digits` significant digits: 761 ns, not 0.000761."""
    unit, factor = duration_unit(ms)
    return f"{_significant(ms * factor, digits)} {unit}"


def interval(low: float, high: float, centre: float | None = None) -> str:
    """low – high in one unit (the centre's), with as many digits as tell the two ends apart;
    with `centre`, also its half-width as +/- % of the centre to two significant digits."""
    unit, factor = duration_unit(centre if centre is not None else (low + high) / 2)
    digits = 3
    while (
        digits < 9
        and low != high
        and (_significant(low * factor, digits) == _significant(high * factor, digits))
    ):
        digits += 1
    text = f"{_significant(low * factor, digits)} – {_significant(high * factor, digits)} {unit}"
    if not centre:
        return text
    percent = 100 * (high - low) / 2 / abs(centre)
    shown = "0" if percent == 0 else f"{percent:#.2g}".rstrip(".")
    return f"{text} (±{'< 0.0001' if 'e' in shown else shown}%)"


FORMATTERS: dict[str, Callable] = {
    "int": lambda v: f"{int(v):,}",
    "num": fmt_number,
    "ms": duration,
    "ips": lambda v: fmt_number(v, 4),
    "flops": lambda v: si(v),
    "pct": lambda v: f"{100 * v:.2f}%",
    "pp": lambda v: f"{100 * v:+.2f} pp",
    "cv": lambda v: f"{100 * v:.1f}%" if abs(v) < 10 else f"{100 * v:,.0f}%",
    "w": lambda v: f"{v:.3g} W",
    "mj": lambda v: f"{v:.4g} mJ",
}


# --- tables ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One table column: the DataFrame key, its header and how values look.

    kind: text, mono, wrap (long text cut at LONG_TEXT, whole on hover), wrap-all (wrapped,
    never cut), status, flag, or a number format from FORMATTERS. A callable
    ``render(row) -> (sort_value, html)`` overrides the rest. help (the header's tooltip)
    defaults to the column catalogue's meaning of `key` (edgebench.metrics.columns); give it
    only where the report says more than the catalogue, or "" for no tooltip.
    """

    key: str
    title: str
    kind: str = "text"
    help: str | None = None
    render: Callable | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.help is None:
            entry = CATALOGUE.get(self.key)
            object.__setattr__(self, "help", entry.help if entry else "")

    @property
    def numeric(self) -> bool:
        return self.kind in FORMATTERS


def _cell(column: Column, row) -> str:
    if column.render is not None:
        sort_value, content = column.render(row)
        classes = "num" if column.numeric else ""
        return f'<td class="{classes}" data-value="{esc(sort_value)}">{content}</td>'
    value = row.get(column.key)
    if absent(value):
        return '<td class="empty" data-value="">—</td>'
    if column.numeric:
        text = FORMATTERS[column.kind](float(value))
        return f'<td class="num" data-value="{float(value)!r}">{esc(text)}</td>'
    if column.kind == "status":
        return f'<td data-value="{esc(value)}">{badge(value)}</td>'
    if column.kind == "flag":
        return f'<td data-value="{int(bool(value))}">{badge("unstable") if value else ""}</td>'
    if column.kind == "wrap" and len(str(value)) > LONG_TEXT:
        short = str(value)[:LONG_TEXT].rstrip() + "…"
        return f'<td class="wrap" title="{esc(value)}">{esc(short)}</td>'
    classes = {"mono": "mono", "wrap": "wrap", "wrap-all": "wrap"}.get(column.kind, "")
    return f'<td class="{classes}">{esc(value)}</td>'


def badge(status) -> str:
    kind = str(status)
    known = kind if kind in ("ok", "unsupported", "failed", "unstable") else ""
    return f'<span class="badge {known}">{esc(kind)}</span>'


def data_table(
    frame: pd.DataFrame,
    columns: list[Column],
    table_id: str,
    sortable: bool = True,
    searchable: bool = True,
) -> str:
    """A table of a DataFrame's rows; sortable by clicking a header, filterable by text."""
    columns = [c for c in columns if c.render is not None or c.key in frame.columns]
    heads = []
    for column in columns:
        attributes = ' data-type="num" class="num"' if column.numeric else ' data-type="text"'
        tip = f' title="{esc(column.help)}"' if column.help else ""
        heads.append(f'<th scope="col"{attributes}{tip}>{esc(column.title)}</th>')
    body = []
    for row in frame.to_dict("records"):
        body.append("<tr>" + "".join(_cell(column, row) for column in columns) + "</tr>")
    classes = "data sortable" if sortable else "data"
    tools = ""
    if searchable and len(frame) > 8:
        tools = (
            '<div class="table-tools">'
            f'<input type="search" placeholder="Filter rows…" data-filter="{esc(table_id)}" '
            f'aria-label="Filter the rows of this table">'
            f'<span class="count">{len(frame)} rows</span></div>'
        )
    return (
        f'{tools}<div class="table-wrap"><table id="{esc(table_id)}" class="{classes}">'
        f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(body)}</tbody>"
        "</table></div>"
    )


def key_values(
    pairs: list[tuple[str, object]], mono: set[str] = frozenset(), heads: tuple[str, str] = ()
) -> str:
    """A two-column table of facts; absent values are left out. Names in `mono` show their
    value in a fixed-width font (ids, digests); `heads` titles the two columns."""
    rows = []
    for name, value in pairs:
        if absent(value) or value == "":
            continue
        cell = '<td class="mono">' if name in mono else "<td>"
        rows.append(f'<tr><th scope="row">{esc(name)}</th>{cell}{esc(value)}</td></tr>')
    head = ""
    if heads:
        titles = "".join(f'<th scope="col">{esc(title)}</th>' for title in heads)
        head = f"<thead><tr>{titles}</tr></thead>"
    return f'<table class="data kv">{head}<tbody>{"".join(rows)}</tbody></table>'


# --- charts, notes, sections ----------------------------------------------------------------------


class Charts:
    """Numbers the chart divs of one page, so every id is unique.

    A chart is an empty div and its figure as JSON; charts.js draws every chart once the whole
    page is laid out. Drawn by an inline script instead, a chart takes the width its box has
    while the page is still being read (a lone first chart of a row: the whole row), and a
    screenshot or a print taken before the later redraw shows it cut at the right edge.
    """

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, figure: go.Figure, name: str) -> str:
        from plotly.io.json import to_json_plotly  # escapes <, > and / inside strings

        self.count += 1
        div_id = f"chart-{self.count}-{name}"
        figure = figure.to_plotly_json()
        layout = {**figure.get("layout", {}), "autosize": True}
        layout.pop("width", None)  # a chart is as wide as its box, never a fixed width
        height = layout.get("height")
        spec = to_json_plotly(
            {"data": figure.get("data", []), "layout": layout, "config": PLOT_CONFIG}
        )
        style = f"height:{height}px; width:100%;" if height else "width:100%;"
        return (
            f'<div class="chart" data-chart="{esc(name)}">'
            f'<div id="{div_id}" class="plotly-graph-div" style="{style}"></div>'
            f'<script type="application/json" data-figure="{div_id}">{spec}</script></div>'
        )


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def lead(text: str) -> str:
    return f'<p class="lead">{esc(text)}</p>'


def stat_cards(items: list[tuple]) -> str:
    """Tiles of (name, value) or (name, value, help, link): help shows on hover, link is a
    #fragment the value points to."""
    cards = []
    for name, value, *more in items:
        help_text, link = (*more, "", "")[:2]
        shown = esc(value)
        if link:
            shown = f'<a href="{esc(link)}">{shown}</a>'
        tip = f' title="{esc(help_text)}"' if help_text else ""
        cards.append(
            f'<div class="stat"{tip}><div class="value">{shown}</div>'
            f'<div class="name">{esc(name)}</div></div>'
        )
    return f'<div class="stats">{"".join(cards)}</div>'


@dataclass
class Section:
    id: str
    title: str
    body: str  # HTML built from the helpers above


def render_page(title: str, subtitle: str, sections: list[Section], footer: str) -> str:
    import plotly.offline

    menu = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    cards = "".join(
        f'<section class="card" id="{esc(s.id)}"><h2>{esc(s.title)}</h2>{s.body}</section>'
        for s in sections
    )
    css = (ASSETS / "report.css").read_text()
    scripts = "".join((ASSETS / name).read_text() for name in ("tables.js", "charts.js"))
    plotly_js = plotly.offline.get_plotlyjs()
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>"
        f"<style>{css}</style>"
        f'<script type="text/javascript">{plotly_js}</script>'
        "</head><body>"
        f'<header class="masthead"><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>'
        f'<nav class="menu" aria-label="Sections">{menu}</nav>'
        f"<main>{cards}</main>"
        f"<footer>{esc(footer)}</footer>"
        f"<script>{scripts}</script>"
        "</body></html>\n"
    )
