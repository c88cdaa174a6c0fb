"""What several sections share: the table's column sets, the CV and CI cells, the outlier note."""

from __future__ import annotations

import pandas as pd

from edgebench.report import summary
from edgebench.report.page import FORMATTERS, Column, absent, badge, esc, interval, note

GROUP_TITLES = {"layer-blocks": "Layer blocks", "cell-blocks": "Cell blocks", "models": "Models"}

IDENTITY = [
    Column("device", "device"),
    Column("workload", "workload"),
    Column("format", "format"),
    Column("batch", "batch", "int"),
    Column("status", "status", "status"),
]
REASON = [Column("reason", "reason", "wrap")]
# A row's status and its reason come right after the columns that name it: in a table wider
# than the window, a failure's reason must be seen without scrolling sideways.
IDENTITY_STATUS = [*IDENTITY, *REASON]


def ci_cell(row) -> tuple:
    low, high = row.get("latency_ms_ci_low"), row.get("latency_ms_ci_high")
    if absent(low) or absent(high):
        return "", '<span class="empty">—</span>'
    level = row.get("latency_ci_level")
    tip = (
        f' title="{100 * level:.1f}% confidence interval of the median"'
        if not absent(level)
        else ""
    )
    return low, f"<span{tip}>{esc(interval(low, high))}</span>"


def cv_cell(row) -> tuple:
    """The CV; one made by a few outliers is marked, and says so on hover (summary.py)."""
    cv = row.get("latency_cv")
    if absent(cv):
        return "", '<span class="empty">—</span>'
    text = esc(FORMATTERS["cv"](cv))
    median, iqr = row.get("latency_ms_median"), row.get("latency_ms_iqr")
    if not summary.outlier_dominated(cv, iqr, median):
        return cv, text
    slowest = row.get("latency_ms_max")
    tip = (
        f"This CV comes from a few outliers: the standard deviation is inflated by samples far "
        f"from the rest (slowest {FORMATTERS['ms'](slowest)} against a median of "
        f"{FORMATTERS['ms'](median)}), while the middle half of the samples lies within "
        f"{FORMATTERS['pct'](summary.relative_iqr(iqr, median))} of the median (IQR / median). "
        "Read the median, its confidence interval and IQR / median, not the mean and CV."
        if not absent(slowest)
        else "This CV comes from a few outliers; read the median and IQR / median instead."
    )
    return cv, (
        f'<span class="cv-outliers" title="{esc(tip)}">{text} '
        '<span class="badge outliers">outliers</span></span>'
    )


def relative_iqr_cell(row) -> tuple:
    value = summary.relative_iqr(row.get("latency_ms_iqr"), row.get("latency_ms_median"))
    if absent(value):
        return "", '<span class="empty">—</span>'
    return value, esc(FORMATTERS["pct"](value))


CV_HELP = (
    "coefficient of variation (sd / mean); a run is unstable when its robust CV (MAD × 1.4826 / "
    "median) is above 10%, so outliers alone do not make it so. Marked 'outliers' "
    "when a few samples far from the rest make it (hover for the figures). A serial board's "
    "figures are over its windows' means (5 by default), not single inferences; it is unstable "
    "when its fastest window's throughput is over 1.02 x its slowest's (latency_window_spread)"
)
IQR_HELP = "robust spread: width of the middle half of the samples over the median"
OUTLIER_NOTE = (
    "A CV marked “outliers” is made by a few samples far from the rest (a stall: another "
    "process, a page fault, a frequency change): they inflate the standard deviation, and with "
    "it the CV, to many times the mean, while the other samples agree closely. For those runs "
    "read the median, its confidence interval and IQR / median, which outliers do not move; "
    "hover the CV for the slowest sample."
)


def outlier_note(rows: pd.DataFrame) -> str:
    """The note that explains the 'outliers' mark, where a row of `rows` carries it."""
    if "latency_cv" not in rows.columns or rows.empty:
        return ""
    marked = [
        summary.outlier_dominated(cv, iqr, median)
        for cv, iqr, median in zip(
            rows["latency_cv"], rows["latency_ms_iqr"], rows["latency_ms_median"], strict=True
        )
    ]
    return note(OUTLIER_NOTE) if any(marked) else ""


LATENCY = [
    Column("latency_ms_median", "median", "ms"),
    Column("latency_ms_p90", "p90", "ms"),
    Column("latency_ms_ci_low", "95% CI of median", "ms", render=ci_cell),
    Column("latency_cv", "CV", "cv", CV_HELP, render=cv_cell),
    Column("latency_ms_iqr", "IQR / median", "pct", IQR_HELP, render=relative_iqr_cell),
    Column("unstable", "stability", "flag"),
    Column("throughput_ips", "images/s", "ips"),
    Column("flops", "FLOPs", "flops"),
    Column("achieved_flops", "FLOPS", "flops"),
]


def accuracy_fail_cell(row) -> tuple:
    if row.get("accuracy_fail") is True:
        limit = row.get("accuracy_drop_limit")
        tip = esc(f"accuracy drop beyond the suite's max_accuracy_drop ({limit:.3g})")
        return 1, f'<span class="badge failed" title="{tip}">accuracy fail</span>'
    return 0, ""


def fallback_cell(row) -> tuple:
    if row.get("accelerator_fallback") is True:
        tip = esc(f"asked for an accelerator, ran on the CPU: {row.get('runtime_details')}")
        return 1, f'<span class="badge failed" title="{tip}">CPU fallback</span>'
    return 0, ""


ACCURACY = [
    Column("accuracy_top1", "top-1", "pct"),
    Column("accuracy_auc", "AUC", "num"),  # metric auc (anomaly detection)
    Column("accuracy_drop", "accuracy drop", "pp"),
    Column("accuracy_fail", "", "text", "", render=accuracy_fail_cell),
    Column("vips", "VIPS", "ips"),
]
RUNTIME = [
    Column("accelerator_fallback", "", "text", "", render=fallback_cell),
    Column("conversion_flags", "compiler flags", "wrap"),
    Column("runtime_details", "runtime details", "wrap-all"),
]
POWER = [
    Column("power_w", "power", "w"),
    Column("energy_per_inference_mj", "energy/inference", "mj"),
    Column("efficiency_ips_per_w", "images/s/W", "num"),
]


def has(table: pd.DataFrame, column: str) -> bool:
    return column in table.columns and table[column].notna().any()


FLAGS = (
    "accuracy_fail",
    "accelerator_fallback",
    "conversion_flags",
)  # shown only where a row raises them


def present(table: pd.DataFrame, columns: list[Column]) -> list[Column]:
    """Columns with at least one figure ("where present"); flag columns where one is raised."""
    return [c for c in columns if _shown(table, c)]


def _shown(table: pd.DataFrame, column: Column) -> bool:
    if column.key in FLAGS:
        values = table[column.key] if column.key in table.columns else pd.Series(dtype=object)
        return values.eq(True).any() or values.map(lambda v: isinstance(v, str) and v != "").any()
    return column.render is not None or has(table, column.key)


def groups(table: pd.DataFrame) -> pd.Series:
    return table["group"] if "group" in table.columns else pd.Series("models", table.index)


def power_present(table: pd.DataFrame) -> bool:
    return any(has(table, c.key) for c in POWER)


def did_not_run(rows: pd.DataFrame) -> str:
    """Every failed or unsupported row's reason, grouped by reason, in the page's own flow: seen
    at any window width, where the table's reason column may need a sideways scroll."""
    missed = rows[rows["status"].isin(["failed", "unsupported"])]
    if missed.empty:
        return ""
    items = []
    reasons = missed["reason"].fillna("").astype(str)
    for (status, reason), group in missed.groupby([missed["status"], reasons], sort=False):
        names = "; ".join(_row_name(r) for r in group.to_dict("records"))
        count = f"{len(group)} row{'s' if len(group) != 1 else ''}"
        items.append(
            f'<li>{badge(status)} <strong class="why">{esc(reason or "no reason recorded")}'
            f"</strong> ({count}): {esc(names)}</li>"
        )
    return f'<ul class="did-not-run" aria-label="Rows that did not run">{"".join(items)}</ul>'


def _row_name(row: dict) -> str:
    parts = [str(row["device"]), str(row["workload"]), str(row["format"])]
    if not absent(row.get("batch")):
        parts.append(f"batch {int(row['batch'])}")
    return " · ".join(parts)
