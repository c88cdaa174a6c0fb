"""Latency distributions: box plots of every raw sample with each process's median and the
median's interval, the repeatability table, and the list of unstable runs."""

from __future__ import annotations

from edgebench.report import plots, summary
from edgebench.report.page import (
    Charts,
    Column,
    Section,
    absent,
    data_table,
    duration,
    esc,
    interval,
    lead,
    note,
)
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
    Column("latency_ms_median", "median", "ms"),
    Column("latency_ms_iqr", "IQR / median", "pct", IQR_HELP, render=relative_iqr_cell),
    Column("latency_ms_min", "min", "ms"),
    Column("latency_ms_max", "max", "ms"),
    Column("runs", "samples", "int"),
]

PROCESS_HELP = (
    "the median of each fresh agent process, in the order they ran: drift between processes "
    "that one process's samples cannot show"
)
SPREAD_HELP = "max / min of the per-process medians; flagged above the run's max_process_spread"


def interval_cell(row) -> tuple:
    """The median's 95% interval as low – high and as +/- % of the median."""
    low, high, median = row.get("ci_low"), row.get("ci_high"), row.get("median")
    if absent(low) or absent(high) or absent(median) or not median:
        return "", '<span class="empty">—</span>'
    return (high - low) / 2 / median, esc(interval(low, high, median))


def process_medians_cell(row) -> tuple:
    medians = row.get("process_medians")
    if not isinstance(medians, list) or not medians:
        return "", '<span class="empty">—</span>'
    return len(medians), esc(", ".join(duration(m) for m in medians))


def spread_cell(row) -> tuple:
    spread = row.get("process_spread")
    if absent(spread):
        return "", '<span class="empty">— (one process)</span>'
    text = esc(f"{spread:.3f}")
    if row.get("spread_too_wide"):
        limit = row.get("spread_limit")
        tip = esc(f"above max_process_spread {limit}: the figure is not repeatable")
        text += f' <span class="badge unstable" title="{tip}">too wide</span>'
    return spread, text


REPEATABILITY_COLUMNS = [
    *IDENTITY[:4],
    Column("median", "median", "ms", "median of every raw sample of every process"),
    Column("ci", "95% interval of the median", "num", render=interval_cell),
    Column("processes", "per-process medians", "int", PROCESS_HELP, render=process_medians_cell),
    Column("process_spread", "process spread", "num", SPREAD_HELP, render=spread_cell),
    Column("n", "samples", "int"),
]


def speedup_interval_cell(row) -> tuple:
    """The paired speed-up's interval, with its coverage (below 95% with few rounds)."""
    low, high, level = (
        row.get("speedup_ci_low"),
        row.get("speedup_ci_high"),
        row.get("speedup_ci_level"),
    )
    if absent(low) or absent(high):
        return "", '<span class="empty">—</span>'
    coverage = "" if absent(level) else f" ({100 * level:.0f}%)"
    return high - low, esc(f"{low:.3f} – {high:.3f}{coverage}")


SPEEDUP_COLUMNS = [
    *IDENTITY[:4],
    Column("speedup_reference", "against"),
    Column("speedup", "paired speed-up", "num"),
    Column(
        "speedup_ci",
        "interval (coverage)",
        "num",
        "distribution-free interval of the median of the per-round ratios; 95% from 6 rounds, "
        "below that the rounds' range at its true coverage",
        render=speedup_interval_cell,
    ),
    Column("latency_ms_median", "median", "ms"),
]


def paired_speedups(table) -> str:
    """Schedule interleaved: each format's speed-up against the reference, round by round."""
    if "speedup" not in table.columns or table["speedup"].isna().all():
        return ""
    rows = table[table["speedup"].notna()]
    return (
        '<h3 id="paired-speedups">Paired speed-ups</h3>'
        + lead(
            "Formats timed together in rounds (schedule: interleaved; the order alternating, "
            "a fresh process per format per round): per round, the reference's median over "
            "this format's; the figure is the median of those ratios (above 1: faster than "
            "the reference). A slow period of the machine falls on both sides of a ratio, so "
            "these are fairer than the ratio of two separately measured medians."
        )
        + data_table(rows, SPEEDUP_COLUMNS, "speedup-table")
    )


def repeatability(boxes) -> str:
    parts = [
        '<h3 id="repeatability">Repeatability</h3>',
        lead(
            "Why a figure can be trusted: the median of each fresh process (the diamonds on the "
            "boxes above), their spread, and the 95% interval of the reported median (the bar). "
            "A narrow interval with a wide process spread means the machine drifted between "
            "processes: the run is flagged unstable and its figures should be re-measured."
        ),
    ]
    return "".join(parts) + data_table(boxes, REPEATABILITY_COLUMNS, "repeatability-table")


def section(report, charts: Charts) -> Section:
    boxes = report.box_frame()
    parts = [
        lead(
            "Box plots from every raw timed sample (box: quartiles; whiskers: the last samples "
            "inside Q1 − 3 IQR and Q3 + 3 IQR, beyond which a sample is an outlier, as in the "
            "tables' outlier share; dashed: mean) at each run's smallest batch, with each "
            "process's median (diamonds) and the median's 95% interval (bar); a box is red "
            "when that batch is unstable: its robust CV is above 10% (pyperf's threshold) or "
            "its processes' medians lie further apart than max_process_spread. Every run "
            "unstable at any batch size is listed below."
        )
    ]
    if boxes.empty:
        parts.append(note("No run has raw samples to draw."))
    else:
        for device, per_device in boxes.groupby("device", sort=True):
            for group, rows in per_device.groupby("group", sort=False):
                title = f"{device}: {GROUP_TITLES.get(group, group)}"
                parts.append(charts(plots.latency_boxes(rows, title), f"latency-{device}-{group}"))
        parts.append(repeatability(boxes))
    parts.append(paired_speedups(report.table))
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
