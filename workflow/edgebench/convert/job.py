"""One conversion: a workload's .keras file -> one format, recorded in {format}.json.

This runs inside the conversion engine (this environment, or a toolchain container). A converter
that rejects the model yields an `unsupported` record with the converter's own reason.
"""

from __future__ import annotations

import platform
import textwrap
import time
import traceback
from importlib import metadata
from pathlib import Path

import numpy as np

from edgebench.convert.interface import converter_of, load_converter
from edgebench.fileio import (
    read_conversion_record,
    read_workload_meta,
    sha256_file,
    write_bytes,
    write_conversion_record,
)
from edgebench.formats import FORMATS, Format

REASON_LIMIT = 600


def calibration_inputs(meta: dict, samples: int, seed: int, dataset: Path | None) -> np.ndarray:
    """Dataset samples for trained models, seeded random inputs in the model's range otherwise."""
    if dataset is not None:
        with np.load(dataset) as data:
            return data["x_train"][:samples].astype(np.float32)
    low, high = meta["input_range"]
    shape = (samples, *meta["input_shape"][0])
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def tool_versions(fmt: Format) -> dict[str, str]:
    """Python's version and those of the distributions the format's converter names (converters
    add command-line tools' own versions)."""
    versions = {"python": platform.python_version()}
    for dist in converter_of(fmt).tools:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def short_reason(error: BaseException) -> str:
    """The converter's own words: its error lines, not our traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    flagged = [line for line in lines if "error" in line.lower()] or lines
    text = " | ".join(dict.fromkeys(flagged)) or type(error).__name__
    return clip(f"{type(error).__name__}: {text}")


def clip(text: str, limit: int = REASON_LIMIT) -> str:
    """The text whole, or cut at a word and marked: never mid-word."""
    return text if len(text) <= limit else textwrap.shorten(text, limit, placeholder=" [...]")


def model_path_for(record_path: Path, fmt: Format) -> Path:
    return record_path.with_suffix(fmt.suffix)


def convert_workload(
    workload_dir: Path,
    format_name: str,
    record_path: Path,
    samples: int = 100,
    seed: int = 0,
    dataset: Path | None = None,
    engine: str = "none",
    image_id: str | None = None,
) -> dict:
    fmt = FORMATS[format_name]
    meta = read_workload_meta(workload_dir / "meta.json")
    record = {
        "workload": meta["workload"],
        "format": fmt.name,
        "engine": engine,
        "image": fmt.image,
        "image_id": image_id,
        "tool_versions": tool_versions(fmt),
        "calibration": None,
    }
    if fmt.precision == "int8":
        source = "dataset" if dataset else "seeded-random"
        record["calibration"] = {"source": source, "samples": samples, "seed": seed}
    started = time.monotonic()
    try:
        record.update(_convert(workload_dir, fmt, record_path, meta, samples, seed, dataset))
    except Exception as error:  # a converter rejecting a model is a result, not a crash
        traceback.print_exc()
        record.update(status="unsupported", reason=short_reason(error))
    record["duration_s"] = round(time.monotonic() - started, 3)
    write_conversion_record(record_path, record)
    return record


def _convert(workload_dir, fmt, record_path, meta, samples, seed, dataset) -> dict:
    if fmt.source is not None:
        return _convert_file(workload_dir, fmt, record_path, meta, samples, seed, dataset)
    import keras

    import edgebench.workloads.layers  # noqa: F401  (custom layers must be registered)
    from edgebench.workloads.build import resolve_builder

    converter, convert = load_converter(fmt)
    if meta["group"] == "models":
        resolve_builder(meta["builder"])  # registers a user model's custom layers, if any
    model = keras.models.load_model(workload_dir / "model.keras", compile=False)
    calibration = (
        calibration_inputs(meta, samples, seed, dataset) if fmt.precision == "int8" else None
    )
    started = time.monotonic()
    blob = convert(model, fmt, calibration)
    work_s = time.monotonic() - started  # the converter itself, after imports and model load
    out = model_path_for(record_path, fmt)
    write_bytes(out, blob)
    return {
        "status": "ok",
        "reason": "",
        "work_s": round(work_s, 3),
        "model_file": out.name,
        "size_bytes": out.stat().st_size,
        "sha256": sha256_file(out),
        "ops": converter.op_counts(out),
    }


def _convert_file(workload_dir, fmt, record_path, meta, samples, seed, dataset) -> dict:
    """A format made from another format's file (ONNX -> TensorRT/OpenVINO, int8 TFLite ->
    Edge TPU): the vendor tool first, then the source conversion's record and file."""
    converter, convert = load_converter(fmt)
    missing = converter.missing_tool(fmt)
    if missing:
        return {"status": "unsupported", "reason": missing}
    source_record = record_path.with_name(f"{fmt.source}.json")
    if not source_record.is_file():
        return {
            "status": "unsupported",
            "reason": f"{fmt.name} is made from {fmt.source}, which was not converted",
        }
    source = read_conversion_record(source_record)
    if source["status"] != "ok":
        return {
            "status": "unsupported",
            "reason": clip(
                f"{fmt.name} is made from {fmt.source}, which is {source['status']}: "
                f"{source['reason']}"
            ),
        }
    out = model_path_for(record_path, fmt)
    calibration = (
        (lambda: calibration_inputs(meta, samples, seed, dataset))
        if fmt.precision == "int8"
        else None
    )
    started = time.monotonic()
    facts = convert(record_path.with_name(source["model_file"]), out, fmt, calibration)
    work_s = time.monotonic() - started  # the vendor tool, its imports included
    # a converter may name another model file (a TensorRT engine's ONNX build input)
    model = out.with_name(facts.pop("model_file", out.name))
    files = [model, *facts.pop("extra_files", [])]
    versions = tool_versions(fmt) | facts.pop("tool_versions", {})
    result = {
        "status": "ok",
        "reason": "",
        "model_file": model.name,
        "size_bytes": sum(path.stat().st_size for path in files),
        "sha256": sha256_file(model),
        "source": {"format": fmt.source, "sha256": source["sha256"]},
        "tool_versions": versions,
        "work_s": round(work_s, 3),
        **facts,
    }
    if not getattr(converter, "calibrates", False):  # quantized, if at all, by its source
        result["calibration"] = source.get("calibration")
    if len(files) > 1:
        result["files"] = {path.name: sha256_file(path) for path in files}
    return result
