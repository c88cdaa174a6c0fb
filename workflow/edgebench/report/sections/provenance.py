"""Provenance: device facts, runtimes, converters, container images, model files, the config."""

from __future__ import annotations

import yaml

from edgebench.report.page import Charts, Column, Section, data_table, esc, lead, note
from edgebench.report.sections.cost import run_cost
from edgebench.report.sections.images import container_image


def section(report, charts: Charts) -> Section:
    parts = [
        lead(
            "Where every figure comes from: the devices, runtimes, converters, images, model "
            "files, what the workflow's jobs cost and the configuration of this run."
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
                Column("details", "what the runtime used", "wrap-all"),
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
    parts.append(run_cost(report))
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
