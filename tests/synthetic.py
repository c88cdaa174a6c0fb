"""Small synthetic results for the report tests, made the way the workflow makes them.

Raw run logs (run.jsonl, docs/raw-format.md), accuracy outputs, conversion records and meta.json
files are written to a results folder; the table comes from the real table builder
(``edgebench.metrics.tables.build_table``) and the digests from ``report.data.device_digest``.

``build(root)``: two devices, two models with a batch sweep that ends in an out-of-memory failure,
layer and cell blocks (one unsupported on a device, one whose run crashed), one unstable run, one
device that ran a model file other than the converted one, labels with HTML in them; the local
device's models are timed in three processes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from edgebench.fileio import write_json
from edgebench.metrics.tables import build_table
from edgebench.report.data import device_digest

MS = 1_000_000
HTML_DESCRIPTION = "<b>Bold board</b><script>window.__injected = 1</script>"
HTML_FAMILY = "<i>mobile</i>"
DEVICES = {
    "local": {
        "name": "local",
        "description": "This machine's CPU",
        "transport": "local",
        "formats": ["tflite-fp32", "tflite-int8", "onnx-fp32"],
        "power": {"source": "none"},
    },
    "edge-b": {
        "name": "edge-b",
        "description": HTML_DESCRIPTION,
        "transport": "ssh",
        "formats": ["tflite-fp32", "tflite-int8"],
        "power": {"source": "none"},
    },
}
FORMATS = ["tflite-fp32", "tflite-int8", "onnx-fp32"]
MODELS = {"digits-cnn": ("cnn", 234_000, 0.95), "mobilenetv2": (HTML_FAMILY, 616_000_000, 0.71)}
LAYER_BLOCKS = ["layer-fc-128-32", "layer-conv2d-f32-s1", "layer-act-relu"]
CELL_BLOCKS = ["cell-mobilenet-f64"]
BLOCK_FLOPS = 2_000_000
MODEL_BATCHES, OOM_BATCH = [1, 2, 4], 8
UNSUPPORTED = ("edge-b", "layer-act-relu", "tflite-int8")
UNSUPPORTED_REASON = "op RELU <int8>"
FAILED = ("local", "layer-conv2d-f32-s1", "onnx-fp32")
FAILED_REASON = "agent crashed"
UNSTABLE = ("local", "layer-fc-128-32", "tflite-fp32")
DIFFERENT_FILE = ("edge-b", "mobilenetv2", "tflite-int8")  # ran a file it was not given
SPEED = {"local": 1.0, "edge-b": 3.5}
FORMAT_SPEED = {"tflite-fp32": 1.0, "tflite-int8": 0.55, "onnx-fp32": 0.8}
SAMPLES = 60
CLASSES, ACCURACY_SAMPLES = 10, 100
INT8_DROP = 0.02  # int8 outputs get 2 more of the 100 labels wrong than float32
WATTS = {"local": 4.0, "edge-b": 2.0}  # during the timed windows; idle is half
POWER_STEP_NS = 5 * MS
RUNTIMES = {
    "tflite": {"name": "ai_edge_litert", "version": "2.3.0"},
    "onnx": {"name": "onnxruntime", "version": "1.32.0"},
}


def model_sha(workload: str, fmt: str) -> str:
    """A fixed SHA-256 per converted file (the same in every process, unlike hash())."""
    return hashlib.sha256(f"{workload}/{fmt}".encode()).hexdigest()


# --- raw files, as the workflow writes them -------------------------------------------------------


def header(device: str, workload: str, fmt: str, batch_sizes: list[int], **fields) -> dict:
    return {
        "type": "header",
        "format_version": 1,
        "device": device,
        "workload": workload,
        "format": fmt,
        "facts": {"hostname": f"{device}-host", "cpu_model": "Test CPU", "cpu_count": 4},
        "runtime": RUNTIMES[fmt.split("-")[0]],
        "threads": 4,
        "model": {"file": "model", "sha256": model_sha(workload, fmt), "size_bytes": 4096},
        "timing": {"warmup_runs": 5, "min_runs": SAMPLES},
        "batch_sizes": batch_sizes,
        "seed": 0,
        "clock": "monotonic_ns",
        **fields,
    }


def batch_records(
    batch: int, latencies_ms, clock: int, processes: int = 1
) -> tuple[list[dict], int]:
    """One sample record per latency, then the batch record; the clock after them. With
    `processes` > 1 the samples are split into that many consecutive processes (format 2)."""
    records = []
    per_process = -(-len(latencies_ms) // processes)
    for index, ms in enumerate(latencies_ms):
        end = clock + int(ms * MS)
        sample = {"type": "sample", "batch": batch, "start_ns": clock, "end_ns": end}
        if processes > 1:
            sample["process"] = index // per_process
        records.append(sample)
        clock = end + 1000
    records.append(
        {
            "type": "batch",
            "batch": batch,
            "status": "ok",
            "reason": "",
            "load_ns": 30 * MS,
            "first_ns": 9 * MS,
            "warmup_runs": 5,
            "warmup_ns": 20 * MS,
            "runs": len(latencies_ms),
            "peak_rss_kb": 120_000 + batch,
        }
    )
    return records, clock


def write_run(
    root: Path,
    device: str,
    workload: str,
    fmt: str,
    batches: dict[int, list[float]],
    *,
    failed_batch: tuple[int, str] | None = None,
    end: tuple[str, str] = ("complete", ""),
    outputs: np.ndarray | None = None,
    power: float | None = None,
    processes: int = 1,
    **header_fields,
) -> Path:
    """results/raw/{device}/{workload}/{format}/run.jsonl, with accuracy.npz and, with `power`
    (watts while timed), power.jsonl; each batch's samples timed in `processes` processes."""
    run_dir = root / "results" / "raw" / device / workload / fmt
    run_dir.mkdir(parents=True)
    sizes = [*batches, *([failed_batch[0]] if failed_batch else [])]
    if processes > 1:
        header_fields.setdefault("format_version", 2)
    records, clock = [header(device, workload, fmt, sizes, **header_fields)], 10**9
    for batch, latencies in batches.items():
        more, clock = batch_records(batch, latencies, clock, processes)
        records += more
    if failed_batch:
        batch, reason = failed_batch
        records.append(
            {"type": "batch", "batch": batch, "status": "failed", "reason": reason, "runs": 0}
        )
    if outputs is not None:
        np.savez(run_dir / "accuracy.npz", outputs=outputs)
        records.append(
            {
                "type": "accuracy",
                "file": "accuracy.npz",
                "samples": len(outputs),
                "status": "ok",
                "reason": "",
            }
        )
    records.append({"type": "end", "status": end[0], "reason": end[1], "finished_ns": clock})
    path = run_dir / "run.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    if power is not None and batches:
        write_power_log(run_dir, records, power)
    return path


def write_power_log(run_dir: Path, records: list[dict], watts: float) -> Path:
    """power.jsonl as the agent writes it for an on-board source: an idle window (half the
    power) before the first sample, a window mark per batch and process, samples every 5 ms."""
    windows = {}
    for record in records:
        if record["type"] == "sample":
            key = (record["batch"], record.get("process", 0))
            start, end = windows.get(key, (record["start_ns"], record["end_ns"]))
            windows[key] = (min(start, record["start_ns"]), max(end, record["end_ns"]))
    first = min(start for start, _ in windows.values())
    last = max(end for _, end in windows.values())
    idle = (first - 120 * MS, first - 20 * MS)
    lines = [{"type": "header", "format_version": 1, "source": "ina3221", "kind": "power",
              "clock": "device-monotonic", "interval_s": POWER_STEP_NS / 1e9}]  # fmt: skip
    for t in range(idle[0] - 10 * MS, last + 10 * MS, POWER_STEP_NS):
        level = watts / 2 if t < idle[1] + 5 * MS else watts
        lines.append({"type": "sample", "t_ns": t, "watts": level, "rails": {"VDD_IN": level}})
    lines += [{"type": "mark", "name": "idle", "edge": e, "t_ns": t} for e, t in
              zip(("start", "end"), idle, strict=True)]  # fmt: skip
    for (batch, process), (start, end) in windows.items():
        for edge, t in (("start", start), ("end", end)):
            lines.append(
                {"type": "mark", "name": "window", "edge": edge, "t_ns": t, "batch": batch,
                 "process": process}
            )  # fmt: skip
    lines.append({"type": "end", "status": "ok", "reason": "", "samples": len(lines) - 1})
    path = run_dir / "power.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_conversion(root: Path, workload: str, fmt: str) -> Path:
    path = root / "results" / "converted" / workload / f"{fmt}.json"
    record = {
        "workload": workload,
        "format": fmt,
        "status": "ok",
        "reason": "",
        "engine": "none",
        "image": fmt.split("-")[0],
        "tool_versions": {"tensorflow": "2.20.0", "python": "3.11.9"},
        "model_file": f"{fmt}.model",
        "sha256": model_sha(workload, fmt),
        "size_bytes": 4096,
    }
    write_json(path, record)
    return path


def write_meta(root: Path, workload: str, group: str, family: str, flops: int) -> Path:
    path = root / "results" / "workloads" / workload / "meta.json"
    write_json(path, {"workload": workload, "group": group, "family": family, "flops": flops})
    return path


def outputs_with_hits(labels: np.ndarray, hits: int) -> np.ndarray:
    """One-hot outputs whose first `hits` rows name the label and the rest the next class."""
    predicted = labels.copy()
    predicted[hits:] = (labels[hits:] + 1) % CLASSES
    return np.eye(CLASSES, dtype=np.float32)[predicted]


def write_dataset(root: Path, workload: str, top1: float, rng) -> tuple[Path, Path]:
    """The labelled test set and the float32 reference outputs (top-1 = `top1`)."""
    labels = rng.integers(0, CLASSES, ACCURACY_SAMPLES)
    folder = root / "results" / "workloads" / workload
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "dataset.npz", y_test=labels)
    reference = outputs_with_hits(labels, round(top1 * ACCURACY_SAMPLES))
    np.savez(folder / "reference.npz", outputs=reference)
    return folder / "dataset.npz", folder / "reference.npz"


def latencies(median_ms: float, rng, unstable: bool = False) -> list[float]:
    spread = 0.4 if unstable else 0.03
    return (median_ms * (1 + np.abs(rng.normal(0, spread, SAMPLES)))).tolist()


# --- the results of one synthetic benchmark -------------------------------------------------------


def workloads() -> list[tuple[str, str, str, int]]:
    """(workload, group, family, FLOPs) of every workload."""
    rows = [(name, "models", family, flops) for name, (family, flops, _) in MODELS.items()]
    rows += [(name, "layer-blocks", name.split("-")[1], BLOCK_FLOPS) for name in LAYER_BLOCKS]
    rows += [(name, "cell-blocks", name.split("-")[1], BLOCK_FLOPS) for name in CELL_BLOCKS]
    return rows


def _run(root: Path, key: tuple[str, str, str], group: str, rng, accuracy, power: bool) -> Path:
    device, workload, fmt = key
    if key == UNSUPPORTED:
        return write_run(root, *key, {}, end=("unsupported", UNSUPPORTED_REASON))
    if key == FAILED:
        return write_run(root, *key, {}, end=("failed", FAILED_REASON))
    models = group == "models"
    median = (5.0 if models else 0.2) * SPEED[device] * FORMAT_SPEED[fmt]
    batches = {
        batch: latencies(median * batch**0.7, rng, unstable=key == UNSTABLE)
        for batch in (MODEL_BATCHES if models else [1])
    }
    outputs = None
    if workload in accuracy:
        labels, hits = accuracy[workload]
        misses = round(INT8_DROP * len(labels)) if fmt == "tflite-int8" else 0
        outputs = outputs_with_hits(labels, hits - misses)
    fields = {}
    if key == DIFFERENT_FILE:
        fields["model"] = {"file": "model", "sha256": "f" * 64, "size_bytes": 4096}
    return write_run(
        root,
        *key,
        batches,
        failed_batch=(OOM_BATCH, "out of memory") if models else None,
        outputs=outputs,
        power=WATTS[device] if power and models else None,
        processes=3 if models and device == "local" else 1,
        **fields,
    )


def build(root: Path, power: bool = False) -> dict:
    """{"table", "digests", "conversions", "context"}: a ``Report``'s arguments, from raw files
    written under `root`. With `power`, every model run has a power log (WATTS while timed,
    half that idle) and the table builder fills the power columns from it."""
    root = Path(root)
    rng = np.random.default_rng(7)
    profiles = {
        name: {**profile, "power": {"source": "ina3221"}} if power else profile
        for name, profile in DEVICES.items()
    }
    metas, conversions, references, datasets, accuracy = [], [], {}, {}, {}
    for workload, group, family, flops in workloads():
        metas.append(write_meta(root, workload, group, family, flops))
        conversions += [write_conversion(root, workload, fmt) for fmt in FORMATS]
        if workload in MODELS:
            top1 = MODELS[workload][2]
            datasets[workload], references[workload] = write_dataset(root, workload, top1, rng)
            labels = np.load(datasets[workload])["y_test"]
            accuracy[workload] = (labels, round(top1 * len(labels)))
    runs, plan = {device: [] for device in DEVICES}, []
    for device, profile in DEVICES.items():
        for workload, group, _, _ in workloads():
            for fmt in profile["formats"]:
                key = (device, workload, fmt)
                runs[device].append(_run(root, key, group, rng, accuracy, power))
                plan.append(key)
    table = build_table(
        runs=[path for paths in runs.values() for path in paths],
        conversions=conversions,
        metas=metas,
        devices=profiles,
        plan_rows=plan,
        references=references,
        datasets=datasets,
    )
    digests = [device_digest(device, profiles[device], runs[device]) for device in DEVICES]
    context = {
        "config": {"devices": list(DEVICES), "suite": "synthetic", "containers": "none"},
        "suite_name": "synthetic",
        "suite": {"description": "synthetic <suite>", "formats": FORMATS},
        "devices": profiles,
    }
    return {
        "table": table,
        "digests": digests,
        "conversions": [json.loads(path.read_text()) for path in conversions],
        "context": context,
    }
