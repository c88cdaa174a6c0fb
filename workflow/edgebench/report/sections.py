"""The report's sections, each built from the result table, the device digests and the context."""

from __future__ import annotations

import pandas as pd
import yaml

from edgebench.report import plots, summary
from edgebench.report.page import (
    FORMATTERS,
    Charts,
    Column,
    Section,
    absent,
    data_table,
    esc,
    key_values,
    lead,
    note,
    stat_cards,
)

GROUP_TITLES = {"layer-blocks": "Layer blocks", "cell-blocks": "Cell blocks", "models": "Models"}

IDENTITY = [
    Column("device", "device"),
    Column("workload", "workload"),
    Column("format", "format"),
    Column("batch", "batch", "int"),
    Column("status", "status", "status"),
]


def _ci(row) -> tuple:
    low, high = row.get("latency_ms_ci_low"), row.get("latency_ms_ci_high")
    if absent(low) or absent(high):
        return "", '<span class="empty">—</span>'
    level = row.get("latency_ci_level")
    tip = (
        f' title="{100 * level:.1f}% confidence interval of the median"'
        if not absent(level)
        else ""
    )
    return low, f"<span{tip}>{low:.4g} – {high:.4g}</span>"


def _cv(row) -> tuple:
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
        f"from the rest (slowest {FORMATTERS['ms'](slowest)} ms against a median of "
        f"{FORMATTERS['ms'](median)} ms), while the middle half of the samples lies within "
        f"{FORMATTERS['pct'](summary.relative_iqr(iqr, median))} of the median (IQR / median). "
        "Read the median, its confidence interval and IQR / median, not the mean and CV."
        if not absent(slowest)
        else "This CV comes from a few outliers; read the median and IQR / median instead."
    )
    return cv, (
        f'<span class="cv-outliers" title="{esc(tip)}">{text} '
        '<span class="badge outliers">outliers</span></span>'
    )


def _relative_iqr(row) -> tuple:
    value = summary.relative_iqr(row.get("latency_ms_iqr"), row.get("latency_ms_median"))
    if absent(value):
        return "", '<span class="empty">—</span>'
    return value, esc(FORMATTERS["pct"](value))


CV_HELP = (
    "coefficient of variation (sd / mean); above 10% the run is unstable. Marked 'outliers' "
    "when a few samples far from the rest make it (hover for the figures)"
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
    Column("latency_ms_median", "median ms", "ms", "median latency of all timed runs"),
    Column("latency_ms_p90", "p90 ms", "ms", "90th percentile latency"),
    Column(
        "latency_ms_ci_low",
        "95% CI of median (ms)",
        "ms",
        "distribution-free confidence interval of the median",
        render=_ci,
    ),
    Column("latency_cv", "CV", "cv", CV_HELP, render=_cv),
    Column("latency_ms_iqr", "IQR / median", "pct", IQR_HELP, render=_relative_iqr),
    Column("unstable", "stability", "flag"),
    Column("throughput_ips", "images/s", "ips", "batch / median latency"),
    Column("flops", "FLOPs", "flops", "float operations per image (2 x MACs)"),
    Column("achieved_flops", "FLOPS", "flops", "achieved: throughput x FLOPs"),
]
ACCURACY = [
    Column("accuracy_top1", "top-1", "pct"),
    Column("accuracy_drop", "accuracy drop", "pp", "float32 reference top-1 minus this top-1"),
    Column("vips", "VIPS", "ips", "valid images per second: top-1 x images/s"),
]
POWER = [
    Column("power_w", "power", "w"),
    Column("energy_per_inference_mj", "energy/inference", "mj"),
    Column("efficiency_ips_per_w", "images/s/W", "num"),
]
REASON = [Column("reason", "reason", "wrap")]


def _has(table: pd.DataFrame, column: str) -> bool:
    return column in table.columns and table[column].notna().any()


def _present(table: pd.DataFrame, columns: list[Column]) -> list[Column]:
    """Columns with at least one figure ("where present")."""
    return [c for c in columns if c.render is not None or _has(table, c.key)]


def _groups(table: pd.DataFrame) -> pd.Series:
    return table["group"] if "group" in table.columns else pd.Series("models", table.index)


def _power_present(table: pd.DataFrame) -> bool:
    return any(_has(table, c.key) for c in POWER)


# --- overview ------------------------------------------------------------------------------------


def overview(report, charts: Charts) -> Section:
    table = report.table
    groups = _groups(table)
    status = table["status"].value_counts()
    unstable = len(summary.unstable_runs(table))
    body = [
        stat_cards(
            [
                ("devices", table["device"].nunique()),
                ("models", table.loc[groups.eq("models"), "workload"].nunique()),
                ("blocks", table.loc[groups.str.endswith("blocks"), "workload"].nunique()),
                ("formats", table["format"].nunique()),
                ("rows ok", int(status.get("ok", 0))),
                ("unsupported", int(status.get("unsupported", 0))),
                ("failed", int(status.get("failed", 0))),
                (
                    "unstable runs",
                    unstable,
                    "runs (device × workload × format) with a CV above 10% at one batch size "
                    "or more; listed under Latency distributions",
                    "#unstable-runs",
                ),
            ]
        )
    ]
    body.append("<h3>Devices</h3>")
    body.append(data_table(report.device_frame(), DEVICE_COLUMNS, "devices-table"))

    body.append("<h3>Ranking by VIPS score</h3>")
    body.append(
        lead(
            "VIPS = top-1 accuracy x images/s (AIoTBench). A device's score sums, over the model "
            "set, the VIPS of each model's best format at batch 1."
        )
    )
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

    body.append("<h3>Ranking by efficiency</h3>")
    efficiency = summary.efficiency_scores(table)
    if efficiency.empty:
        body.append(
            note(
                "No efficiency ranking: efficiency is images/s per watt, and no device in this "
                "report measures power (see Power)."
            )
        )
    else:
        body.append(
            lead(
                "Images/s/W at batch 1, best format per model; a device's figure is the geometric "
                "mean over its models."
            )
        )
        body.append(
            charts(
                plots.device_ranking(
                    efficiency, "efficiency", "Efficiency per device", "images/s/W"
                ),
                "efficiency-ranking",
            )
        )
        body.append(
            data_table(efficiency, score_columns("efficiency", "images/s/W"), "efficiency-table")
        )

    body.append("<h3>Best format per model</h3>")
    best = summary.best_formats(table)
    if best.empty:
        body.append(note("No model ran at batch 1, so there is no best format to name."))
    else:
        body.append(
            lead("At batch 1: the format with the highest VIPS, or throughput without accuracy.")
        )
        columns = [
            Column("workload", "model"),
            Column("device", "device"),
            Column("format", "best format"),
            Column("criterion", "by"),
            Column("throughput_ips", "images/s", "ips"),
            Column("latency_ms_median", "median ms", "ms"),
            *_present(best, ACCURACY),
        ]
        body.append(data_table(best, columns, "best-formats-table"))
    return Section("overview", "Overview", "".join(body))


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


# --- models --------------------------------------------------------------------------------------


def models(report, charts: Charts) -> Section:
    table = report.table
    rows = table[_groups(table).eq("models")]
    if rows.empty:
        body = note("No whole model in this report (the suite selected blocks only).")
    else:
        columns = [
            *IDENTITY[:2],
            Column("family", "family"),
            *IDENTITY[2:],
            *LATENCY,
            *_present(rows, ACCURACY),
            *_present(rows, POWER),
            *REASON,
        ]
        body = (
            lead(
                "One row per device x model x format x batch. Click a header to sort; absent "
                "figures are empty, never zero."
            )
            + data_table(rows, columns, "models-table")
            + outlier_note(rows)
        )
    return Section("models", "Models", body)


# --- dlmark charts -------------------------------------------------------------------------------


def accuracy(report, charts: Charts) -> Section:
    rows = plots.ok_rows(report.table)
    rows = rows[rows["accuracy_top1"].notna()] if "accuracy_top1" in rows else rows.iloc[0:0]
    if rows.empty:
        body = note(
            "No workload in this report has an accuracy figure: accuracy is measured for models "
            "with a labelled dataset (such as digits-cnn), so there is nothing to plot."
        )
    else:
        body = lead(
            "One point per model x format x device at batch 1, coloured by model family "
            "(dlmark); the marker shape tells devices apart."
        ) + charts(plots.throughput_vs_accuracy(report.table), "accuracy-vs-throughput")
    return Section("accuracy", "Accuracy vs throughput", body)


def batch_sizes(report, charts: Charts) -> Section:
    rows = plots.ok_rows(plots.model_rows(report.table))
    if rows.empty:
        body = note("No model ran, so there is no batch sweep to show.")
    else:
        body = (
            lead(
                "Throughput as the batch grows (dlmark): one small chart per model, colour = "
                "format, line style = device. The sweep stops at the first batch that fails."
            )
            + charts(plots.batch_size_vs_throughput_grid(report.table), "batch-grid")
            + charts(plots.max_batch_size(report.table), "max-batch")
        )
    return Section("batch", "Batch size", body)


def across_devices(report, charts: Charts) -> Section:
    rows = plots.ok_rows(plots.model_rows(report.table))
    if rows.empty:
        return Section("devices", "Across devices", note("No model ran on any device."))
    parts = []
    if report.table["device"].nunique() < 2:
        parts.append(
            note(
                "Only one device in this report: run with more (e.g. --config "
                "devices=local,jetson) to compare them here."
            )
        )
    figures = [
        charts(plots.throughput_vs_device(report.table, model), f"devices-{model}")
        for model in dict.fromkeys(rows["workload"])
    ]
    parts.append(lead("Throughput of each model on every device, per batch size (dlmark)."))
    parts.append(f'<div class="grid">{"".join(figures)}</div>')
    return Section("devices", "Across devices", "".join(parts))


# --- NeurIO blocks -------------------------------------------------------------------------------


def blocks(report, charts: Charts) -> Section:
    table = report.table
    groups = _groups(table)
    present = [g for g in ("layer-blocks", "cell-blocks") if groups.eq(g).any()]
    if not present:
        return Section(
            "blocks", "NeurIO blocks", note("No NeurIO block in this report (suite: models only).")
        )
    parts = [
        lead(
            "Median latency of each block configuration on each device and format (NeurIO), "
            "colour on a log scale. Grey cells are unsupported (the converter or the device "
            "cannot run the block), red cells failed; hover for the reason."
        )
    ]
    for group in present:
        parts.append(f"<h3>{esc(GROUP_TITLES[group])}</h3>")
        parts.append(charts(plots.block_latency_heatmap(table, group), f"heatmap-{group}"))
    rows = table[groups.str.endswith("blocks")]
    columns = [Column("group", "group"), *IDENTITY, *LATENCY, *REASON]
    parts.append("<h3>All block results</h3>")
    parts.append(data_table(rows, columns, "blocks-table"))
    parts.append(outlier_note(rows))
    return Section("blocks", "NeurIO blocks", "".join(parts))


# --- latency distributions -----------------------------------------------------------------------


def latency(report, charts: Charts) -> Section:
    boxes = report.box_frame()
    parts = [
        lead(
            "Box plots from every raw timed sample (box: quartiles, whiskers: 1.5 IQR, dashed: "
            "mean) at each run's smallest batch; a box is red when that batch's CV is above 10% "
            "(pyperf's threshold). Every run unstable at any batch size is listed below."
        )
    ]
    if boxes.empty:
        parts.append(note("No run has raw samples to draw."))
    else:
        for device, per_device in boxes.groupby("device", sort=True):
            for group, rows in per_device.groupby("group", sort=False):
                title = f"{device}: {GROUP_TITLES.get(group, group)}"
                parts.append(charts(plots.latency_boxes(rows, title), f"latency-{device}-{group}"))
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
        columns = [
            *IDENTITY[:3],
            Column("unstable_batches", "unstable at batch"),
            Column("batch", "largest CV at batch", "int"),
            Column("latency_cv", "CV", "cv", CV_HELP, render=_cv),
            Column("latency_ms_median", "median ms", "ms"),
            Column("latency_ms_iqr", "IQR / median", "pct", IQR_HELP, render=_relative_iqr),
            Column("latency_ms_min", "min ms", "ms"),
            Column("latency_ms_max", "max ms", "ms"),
            Column("runs", "samples", "int"),
        ]
        parts.append(data_table(unstable, columns, "unstable-table"))
        parts.append(outlier_note(unstable))
    return Section("latency", "Latency distributions", "".join(parts))


# --- power ---------------------------------------------------------------------------------------


def power(report, charts: Charts) -> Section:
    table = report.table
    traces = report.power_traces()
    if not _power_present(table) and not traces:
        notes = (
            table[["device", "power_note"]].dropna().drop_duplicates("device")
            if "power_note" in table
            else pd.DataFrame(columns=["device", "power_note"])
        )
        listed = "".join(
            f"<li><strong>{esc(r.device)}</strong>: {esc(r.power_note)}</li>"
            for r in notes.itertuples()
        )
        body = note(
            "No device in this report measures power, so this report has no power, energy or "
            "efficiency figures. None is estimated or filled in."
        ) + (f"<ul>{listed}</ul>" if listed else "")
        return Section("power", "Power", body)
    parts = [
        lead(
            "Mean power over the timed window, energy per inference and efficiency "
            "(images/s/W), at batch 1, where the device has a power source."
        )
    ]
    rows = table[table["batch"].eq(1)] if "batch" in table else table
    for column, title, axis in (
        ("power_w", "Mean power during the timed runs", "W"),
        ("energy_per_inference_mj", "Energy per inference", "mJ"),
        ("efficiency_ips_per_w", "Efficiency", "images/s/W"),
    ):
        if _has(rows, column):
            parts.append(charts(plots.power_bars(rows, column, title, axis), f"power-{column}"))
    if traces:
        parts.append(charts(plots.power_traces(traces), "power-traces"))
    columns = [*IDENTITY, *_present(table, POWER), Column("idle_power_w", "idle power", "w")]
    parts.append(data_table(table[table["power_w"].notna()], columns, "power-table"))
    return Section("power", "Power", "".join(parts))


# --- provenance ----------------------------------------------------------------------------------


def provenance(report, charts: Charts) -> Section:
    parts = [
        lead(
            "Where every figure comes from: the devices, runtimes, converters, images, model "
            "files and the configuration of this run."
        ),
        *_table_or_note(
            "Device facts",
            report.facts_frame(),
            "No device reported its facts (no run reached a device).",
            "facts-table",
            searchable=False,
        ),
        *_table_or_note(
            "Runtimes",
            report.runtime_frame(),
            "No run recorded a runtime.",
            "runtimes-table",
            columns=[
                Column("device", "device"),
                Column("format", "format"),
                Column("runtime", "runtime"),
                Column("version", "version"),
                Column("threads", "threads"),
                Column("timing", "timing", "mono"),
            ],
        ),
        *_table_or_note(
            "Converters", report.converter_frame(), "No conversion record.", "converters-table"
        ),
        "<h3>Container images</h3>",
    ]
    if report.images:
        for index, image in enumerate(report.images):
            parts.append(container_image(image, f"image-{index}"))
    else:
        parts.append(
            note(
                "No container image was built for this run (results/images/ is empty): the "
                "converters ran in this Python environment."
            )
        )
    parts += _table_or_note(
        "Model files",
        report.model_frame(),
        "No converted model file.",
        "models-hash-table",
        columns=[
            Column("workload", "workload"),
            Column("format", "format"),
            Column("status", "conversion", "status"),
            Column("size_bytes", "bytes", "int"),
            Column("sha256", "SHA-256", "mono"),
            Column("ran_on", "ran on (same hash)"),
        ],
    )
    parts.append("<h3>Configuration</h3>")
    config_text = yaml.safe_dump(report.context_for_display(), sort_keys=False, width=96)
    parts.append(f'<pre class="config">{esc(config_text)}</pre>')
    return Section("provenance", "Provenance", "".join(parts))


def _table_or_note(title, frame, empty, table_id, columns=None, **options) -> list[str]:
    """A titled table, or a note saying why there is none; columns default to the frame's."""
    if frame.empty:
        return [f"<h3>{title}</h3>", note(empty)]
    columns = columns or [Column(key, key.replace("_", " ")) for key in frame.columns]
    return [f"<h3>{title}</h3>", data_table(frame, columns, table_id, **options)]


# The facts of an image record (results/images/{image}.json, edgebench.images.build) in the
# order a reader wants them; fields the list does not know follow, sorted by name.
IMAGE_FACTS = [
    "status",
    "reason",
    "tag",
    "id",
    "engine",
    "base_image",
    "base_image_id",
    "common_image_id",
    "context_sha256",
    "extra_ca",
    "gpu",
    "duration_s",
    "sif",
]
IMAGE_LABELS = {
    "id": "image id",
    "base_image_id": "base image id",
    "common_image_id": "common base image id",
    "context_sha256": "build context SHA-256",
    "extra_ca": "extra CA certificates",
    "gpu": "needs a GPU",
    "duration_s": "build time (s)",
    "sif": "Apptainer image",
}
IMAGE_IDS = {
    IMAGE_LABELS[key] for key in ("id", "base_image_id", "common_image_id", "context_sha256")
}
IMAGE_TABLES = {  # record key: (title, name column, value column)
    "build_args": ("Build arguments", "argument", "value"),
    "versions": ("Tool versions", "tool", "version"),
}


def _label(key: str) -> str:
    return IMAGE_LABELS.get(key, str(key).replace("_", " "))


def container_image(image: dict, table_id: str) -> str:
    """One image record: its facts, build arguments and tool versions as tables, and its
    installed packages (``packages``) as a filterable table folded away."""
    name = image.get("image") or image.get("name") or "image"
    scalars, nested = [], []
    keys = [k for k in IMAGE_FACTS if k in image]
    keys += sorted(k for k in image if k not in IMAGE_FACTS and k not in ("image", "name"))
    for key in keys:
        value = image[key]
        if key == "packages":
            continue
        if isinstance(value, dict):
            nested.append((key, value))
        elif isinstance(value, list | tuple):
            scalars.append((_label(key), ", ".join(str(v) for v in value)))
        elif isinstance(value, bool):
            scalars.append((_label(key), "yes" if value else "no"))
        else:
            scalars.append((_label(key), value))
    parts = [f"<h4>{esc(name)}</h4>", key_values(scalars, mono=IMAGE_IDS)]
    for key, value in nested:
        title, *heads = IMAGE_TABLES.get(key, (_label(key).capitalize(), "name", "value"))
        pairs = [(str(k), _text(v)) for k, v in sorted(value.items())]
        parts.append(f'<div class="kv-block"><h5>{esc(title)}</h5>')
        if pairs:
            parts.append(key_values(pairs, heads=tuple(heads)))
        else:
            parts.append(note("none"))
        parts.append("</div>")
    packages = package_frame(image.get("packages"))
    if not packages.empty:
        counts = packages["kind"].value_counts(sort=False) if "kind" in packages else None
        detail = (
            " (" + ", ".join(f"{kind}: {count}" for kind, count in counts.items()) + ")"
            if counts is not None
            else ""
        )
        columns = [Column("kind", "kind"), Column("name", "package"), Column("version", "version")]
        parts.append(
            f'<details class="packages"><summary>{len(packages)} installed packages'
            f"{esc(detail)}</summary>"
            f"{data_table(packages, columns, f'{table_id}-packages')}</details>"
        )
    return f'<div class="image">{"".join(parts)}</div>'


def _text(value) -> str:
    if value is None:
        return "not found"
    if isinstance(value, dict | list):
        return yaml.safe_dump(value, sort_keys=True, default_flow_style=True, width=1000).strip()
    return str(value)


def package_frame(packages) -> pd.DataFrame:
    """Installed packages as rows of kind (python, debian, ...), name and version.

    Takes {kind: {name: version}}, {name: version}, or a list of "name==version" /
    "name=version" / "name version" strings, [name, version] pairs or {name, version, kind}
    records; the kind column is left out when no entry has one."""
    rows = []

    def add(entry, kind=None):
        if isinstance(entry, dict):
            name = entry.get("name") or entry.get("package")
            version = entry.get("version")
            kind = entry.get("kind") or entry.get("type") or entry.get("manager") or kind
        elif isinstance(entry, list | tuple) and len(entry) == 2:
            name, version = entry
        else:
            text = str(entry).strip()
            for separator in ("==", "=", " "):
                if separator in text:
                    name, version = (part.strip() for part in text.split(separator, 1))
                    break
            else:
                name, version = text, None
        rows.append({"kind": kind, "name": name, "version": version})

    if isinstance(packages, dict):
        for key, value in packages.items():
            if isinstance(value, dict):
                for name, version in value.items():
                    add((name, version), kind=key)
            elif isinstance(value, list):
                for entry in value:
                    add(entry, kind=key)
            else:
                add((key, value))
    elif isinstance(packages, list | tuple):
        for entry in packages:
            add(entry)
    frame = pd.DataFrame(rows, columns=["kind", "name", "version"])
    if frame["kind"].isna().all():
        frame = frame.drop(columns="kind")
    return frame


SECTIONS = [
    overview,
    models,
    accuracy,
    batch_sizes,
    across_devices,
    blocks,
    latency,
    power,
    provenance,
]
