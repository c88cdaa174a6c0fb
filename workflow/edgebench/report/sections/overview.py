"""Overview: counts, the devices, the VIPS and efficiency rankings, the best format per model."""

from __future__ import annotations

from edgebench.report import plots, summary
from edgebench.report.page import Charts, Column, Section, data_table, lead, note, stat_cards
from edgebench.report.sections.common import ACCURACY, groups, present

DEVICE_COLUMNS = [
    Column("device", "device"),
    Column("description", "description", "wrap"),
    Column("transport", "transport"),
    Column("power_source", "power source"),
    Column("cpu_model", "CPU"),
    Column("hostname", "host"),
]


def score_columns(key: str, title: str) -> list[Column]:
    return [
        Column("rank", "rank", "int"),
        Column("device", "device"),
        Column(key, title, "num"),
        Column("models", "models", "int"),
        Column("formats", "best format per model", "wrap"),
    ]


def section(report, charts: Charts) -> Section:
    table = report.table
    group = groups(table)
    status = table["status"].value_counts()
    unstable = len(summary.unstable_runs(table))
    body = [
        stat_cards(
            [
                ("devices", table["device"].nunique()),
                ("models", table.loc[group.eq("models"), "workload"].nunique()),
                ("blocks", table.loc[group.str.endswith("blocks"), "workload"].nunique()),
                ("formats", table["format"].nunique()),
                ("rows ok", int(status.get("ok", 0))),
                ("unsupported", int(status.get("unsupported", 0))),
                ("failed", int(status.get("failed", 0))),
                (
                    "unstable runs",
                    unstable,
                    "runs (device × workload × format) with a robust CV (MAD × 1.4826 / "
                    "median) above 10% at one batch size or more; listed under Latency "
                    "distributions",
                    "#unstable-runs",
                ),
            ]
        )
    ]
    body.append("<h3>Devices</h3>")
    body.append(data_table(report.device_frame(), DEVICE_COLUMNS, "devices-table"))
    body += _vips_ranking(table, charts)
    body += _efficiency_ranking(table, charts)
    body += _best_formats(table)
    return Section("overview", "Overview", "".join(body))


def _vips_ranking(table, charts: Charts) -> list[str]:
    body = [
        "<h3>Ranking by VIPS score</h3>",
        lead(
            "VIPS = top-1 accuracy x images/s (AIoTBench). A device's score sums, over the model "
            "set, the VIPS of each model's best format at batch 1."
        ),
    ]
    scores = summary.vips_scores(table)
    if scores.empty:
        body.append(
            note(
                "No VIPS score: VIPS needs a top-1 accuracy, and no model in this report has one "
                "(accuracy is measured for models with a labelled dataset, such as digits-cnn)."
            )
        )
    else:
        body.append(
            charts(
                plots.device_ranking(scores, "vips_score", "VIPS score per device", "VIPS"),
                "vips-ranking",
            )
        )
        body.append(data_table(scores, score_columns("vips_score", "VIPS score"), "vips-table"))
    return body


def _efficiency_ranking(table, charts: Charts) -> list[str]:
    body = ["<h3>Ranking by efficiency</h3>"]
    efficiency = summary.efficiency_scores(table)
    if efficiency.empty:
        body.append(
            note(
                "No efficiency ranking: efficiency is images/s per watt, and no device in this "
                "report measures power (see Power)."
            )
        )
        return body
    body.append(
        lead(
            "Images/s/W at batch 1, best format per model; a device's figure is the geometric "
            "mean over its models."
        )
    )
    body.append(
        charts(
            plots.device_ranking(efficiency, "efficiency", "Efficiency per device", "images/s/W"),
            "efficiency-ranking",
        )
    )
    body.append(
        data_table(efficiency, score_columns("efficiency", "images/s/W"), "efficiency-table")
    )
    return body


def _best_formats(table) -> list[str]:
    body = ["<h3>Best format per model</h3>"]
    best = summary.best_formats(table)
    if best.empty:
        body.append(note("No model ran at batch 1, so there is no best format to name."))
        return body
    body.append(
        lead("At batch 1: the format with the highest VIPS, or throughput without accuracy.")
    )
    columns = [
        Column("workload", "model"),
        Column("device", "device"),
        Column("format", "best format"),
        Column("criterion", "by"),
        Column("throughput_ips", "images/s", "ips"),
        Column("latency_ms_median", "median", "ms"),
        *present(best, ACCURACY),
    ]
    body.append(data_table(best, columns, "best-formats-table"))
    return body
