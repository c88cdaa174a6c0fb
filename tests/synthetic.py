"""Small synthetic results for report tests: a result table, device digests, conversion records.

Two devices, two models with a batch sweep (one ends in an out-of-memory failure), layer and
cell blocks (one unsupported, one failed), one unstable run, labels with HTML in them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from edgebench.metrics.tables import COLUMNS, INTEGER_COLUMNS
from edgebench.report.data import box_statistics

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
MODELS = {"digits-cnn": ("cnn", 234_000, 0.95), "mobilenetv2": (HTML_FAMILY, 616_000_000, 0.71)}
LAYER_BLOCKS = ["layer-fc-128-32", "layer-conv2d-f32-s1", "layer-act-relu"]
CELL_BLOCKS = ["cell-mobilenet-f64"]
UNSUPPORTED = ("edge-b", "layer-act-relu", "tflite-int8")
FAILED = ("local", "layer-conv2d-f32-s1", "onnx-fp32")
UNSTABLE = ("local", "layer-fc-128-32", "tflite-fp32")
SPEED = {"local": 1.0, "edge-b": 3.5}
FORMAT_SPEED = {"tflite-fp32": 1.0, "tflite-int8": 0.55, "onnx-fp32": 0.8}


def samples_ns(median_ms: float, n: int, rng, unstable: bool = False) -> np.ndarray:
    spread = 0.4 if unstable else 0.03
    values = median_ms * (1 + np.abs(rng.normal(0, spread, n)))
    return (values * 1_000_000).astype(np.int64)


def build(power: bool = False) -> dict:
    """{"table": DataFrame, "digests": [...], "conversions": [...], "context": {...}}"""
    rng = np.random.default_rng(7)
    rows, runs = [], {device: [] for device in DEVICES}
    workloads = [(w, "models") for w in MODELS] + [(w, "layer-blocks") for w in LAYER_BLOCKS]
    workloads += [(w, "cell-blocks") for w in CELL_BLOCKS]
    for device, profile in DEVICES.items():
        for workload, group in workloads:
            if workload in MODELS:
                family, flops, top1 = MODELS[workload]
            else:
                family, flops, top1 = workload.split("-")[1], 2_000_000, None
            for fmt in profile["formats"]:
                base = {
                    "device": device,
                    "workload": workload,
                    "format": fmt,
                    "group": group,
                    "family": family,
                    "flops": flops,
                    "power_note": f"no power source configured for device {device}",
                }
                key = (device, workload, fmt)
                if key == UNSUPPORTED:
                    rows.append({**base, "status": "unsupported", "reason": "op RELU <int8>"})
                    continue
                if key == FAILED:
                    rows.append({**base, "status": "failed", "reason": "agent crashed"})
                    runs[device].append({"workload": workload, "format": fmt, "batches": []})
                    continue
                batches = [1, 2, 4] if group == "models" else [1]
                median1 = (5.0 if group == "models" else 0.2) * SPEED[device] * FORMAT_SPEED[fmt]
                digest_batches = []
                for batch in batches:
                    median = median1 * batch**0.7
                    values = samples_ns(median, 60, rng, unstable=key == UNSTABLE)
                    box = box_statistics(values)
                    digest_batches.append({"batch": batch, "status": "ok", **box})
                    throughput = batch / (box["median"] / 1000)
                    row = {
                        **base,
                        "batch": batch,
                        "status": "ok",
                        "runs": 60,
                        "latency_ms_median": box["median"],
                        "latency_ms_p90": box["median"] * 1.1,
                        "latency_ms_ci_low": box["median"] * 0.98,
                        "latency_ms_ci_high": box["median"] * 1.02,
                        "latency_ci_level": 0.95,
                        "latency_cv": box["cv"],
                        "unstable": box["unstable"],
                        "throughput_ips": throughput,
                        "achieved_flops": throughput * flops,
                        "max_batch": batches[-1],
                    }
                    if top1 is not None:
                        accuracy = top1 - (0.02 if fmt == "tflite-int8" else 0.0)
                        row.update(
                            accuracy_top1=accuracy,
                            reference_top1=top1,
                            accuracy_drop=top1 - accuracy,
                            vips=accuracy * throughput,
                        )
                    if power:
                        watts = 4.0 if device == "local" else 2.0
                        row.update(
                            power_w=watts,
                            idle_power_w=watts / 2,
                            energy_per_inference_mj=watts / throughput * 1000,
                            efficiency_ips_per_w=throughput / watts,
                            power_note=None,
                        )
                    rows.append(row)
                if group == "models":
                    digest_batches.append({"batch": 8, "status": "failed", "reason": "OOM"})
                    rows.append({**base, "batch": 8, "status": "failed", "reason": "out of memory"})
                    for row in rows[-(len(batches) + 1) :]:
                        row["max_batch"] = batches[-1]
                runs[device].append(
                    {
                        "workload": workload,
                        "format": fmt,
                        "status": "complete",
                        "runtime": {"name": "ai_edge_litert", "version": "2.3.0"},
                        "threads": None,
                        "model": {"sha256": f"{hash((workload, fmt)) & 0xFFFFFFFF:064x}"},
                        "timing": {"min_runs": 60},
                        "batches": digest_batches,
                        "power": (
                            {"time_s": [0.0, 0.1, 0.2, 0.3], "watts": [3.9, 4.1, 4.0, 4.2]}
                            if power and device == "local" and workload == "digits-cnn"
                            else None
                        ),
                    }
                )
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table[INTEGER_COLUMNS] = table[INTEGER_COLUMNS].astype("float64").astype("Int64")
    digests = [
        {
            "format_version": 1,
            "device": device,
            "profile": profile,
            "facts": {"hostname": f"{device}-host", "cpu_model": "Test CPU", "cpu_count": 4},
            "runs": runs[device],
        }
        for device, profile in DEVICES.items()
    ]
    conversions = [
        {
            "workload": workload,
            "format": fmt,
            "status": "ok",
            "engine": "none",
            "image": "tflite" if fmt.startswith("tflite") else "onnx",
            "tool_versions": {"tensorflow": "2.20.0", "python": "3.11.9"},
            "sha256": f"{hash((workload, fmt)) & 0xFFFFFFFF:064x}",
            "size_bytes": 4096,
        }
        for workload, _ in workloads
        for fmt in ("tflite-fp32", "tflite-int8", "onnx-fp32")
    ]
    context = {
        "config": {"devices": list(DEVICES), "suite": "synthetic", "containers": "none"},
        "suite_name": "synthetic",
        "suite": {"description": "synthetic <suite>", "formats": list(FORMAT_SPEED)},
        "devices": DEVICES,
    }
    return {"table": table, "digests": digests, "conversions": conversions, "context": context}
