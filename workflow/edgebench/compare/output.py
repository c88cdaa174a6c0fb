"""The comparison shown: the text table, the settings line, comparison.csv and comparison.html."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from edgebench.compare.significance import FASTER, P_THRESHOLD, SAMPLE_INTERVALS
from edgebench.compare.verdicts import summary
from edgebench.fileio import atomic_path


def _fmt(value, spec: str = "") -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return format(value, spec) if spec else str(value)


def _display(frame: pd.DataFrame) -> list[list[str]]:
    rows = []
    for row in frame.itertuples(index=False):
        accuracy = _fmt(row.accuracy)
        if accuracy:
            accuracy += f" ({row.accuracy_change:+.3f})"
        power = _fmt(row.power)
        if power:
            power += f" (x{row.power_ratio:.2f})"
        rows.append(
            [
                "!" if row.regressed else "",
                row.device,
                row.workload,
                row.format,
                _fmt(row.batch),
                _fmt(row.old_median_ms, ".4g"),
                _fmt(row.new_median_ms, ".4g"),
                _fmt(row.ratio, ".3f"),
                row.verdict,
                _fmt(row.test),
                accuracy,
                power,
                _speedup_cell(row),
                _fmt(row.notes),
            ]
        )
    return rows


HEADINGS = [
    "",
    "device",
    "workload",
    "format",
    "batch",
    "old ms",
    "new ms",
    "ratio",
    "verdict",
    "test",
    "accuracy",
    "power",
    "speed-up",
    "notes",
]


def _speedup_cell(row) -> str:
    """Paired speed-ups (schedule interleaved): old -> new, against their reference."""
    old, new = _fmt(row.old_speedup, ".3f"), _fmt(row.new_speedup, ".3f")
    if not old and not new:
        return ""
    return f"{old or '-'} -> {new or '-'} vs {row.speedup_reference}"


def text_table(frame: pd.DataFrame) -> str:
    rows = [HEADINGS, *_display(frame)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def settings_line(factor: float, accuracy_tolerance: float, power_factor: float) -> str:
    return (
        f"slower/faster: ratio of medians beyond x{factor:.2f} and significant (Mann-Whitney U "
        f"p < {P_THRESHOLD} on the raw samples, else non-overlapping {SAMPLE_INTERVALS}; table "
        f"files alone: non-overlapping 95% intervals); accuracy: top-1 drop beyond "
        f"{accuracy_tolerance:g}; power: power_w beyond x{power_factor:.2f}"
    )


HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td:nth-child(-n+13) { white-space: nowrap; }
tr.regressed td { background: #fde2e2; }
tr.improved td { background: #e2f5e2; }
"""
NUMERIC = {5, 6, 7}


def html_page(frame: pd.DataFrame, old: str, new: str, settings: str) -> str:
    """A self-contained page: the two sources, the settings, the summary and the table."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in HEADINGS)
    body = []
    for row, cells in zip(frame.itertuples(index=False), _display(frame), strict=True):
        improved = row.verdict in (FASTER, "now ok") or row.accuracy == "improved"
        css = "regressed" if row.regressed else "improved" if improved else ""
        tds = "".join(
            f"<td{' class=num' if i in NUMERIC else ''}>{html.escape(cell)}</td>"
            for i, cell in enumerate(cells)
        )
        body.append(f'<tr class="{css}">{tds}</tr>')
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<title>edgebench compare</title>"
        f"<style>{HTML_STYLE}</style></head><body>\n"
        "<h1>edgebench compare</h1>\n"
        f"<p>old: <code>{html.escape(old)}</code><br>new: <code>{html.escape(new)}</code></p>\n"
        f"<p>{html.escape(settings)}</p>\n"
        f"<p><strong>{html.escape(summary(frame))}</strong></p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>"
        "\n</body></html>\n"
    )


def write(frame: pd.DataFrame, out_dir: Path | str, page: str) -> tuple[Path, Path]:
    """comparison.csv and comparison.html in out_dir, each written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out_dir / "comparison.csv", out_dir / "comparison.html"
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(html_path) as tmp:
        tmp.write_text(page)
    return csv_path, html_path
