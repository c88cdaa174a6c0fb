"""Container image records (results/images/{image}.json) as the provenance section shows them:
facts, build arguments and tool versions as tables, installed packages folded away."""

from __future__ import annotations

import pandas as pd
import yaml

from edgebench.report.page import Column, data_table, esc, key_values, note

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
