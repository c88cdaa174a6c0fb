"""The result table's columns, one catalogue: name, type, unit, label and meaning.

The table builder orders and types its columns from it, the README's column table is generated
from it (`python -m edgebench.metrics.columns`, checked by tests/test_tables.py), and a new
column is one entry here plus the code that fills it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # text | int | float | bool
    unit: str
    label: str
    help: str


def _c(name: str, dtype: str, unit: str, label: str, help: str) -> Column:
    return Column(name, dtype, unit, label, help)


_LATENCY = "latency of one inference of the batch"
CATALOGUE: list[Column] = [
    _c("device", "text", "", "Device", "device profile (devices/NAME.yaml)"),
    _c("workload", "text", "", "Workload", "model or block (config/models.yaml, blocks.yaml)"),
    _c("format", "text", "", "Format", "converted format, e.g. tflite-int8"),
    _c("batch", "int", "", "Batch", "batch size; empty where nothing ran"),
    _c("group", "text", "", "Group", "models, layer-blocks or cell-blocks"),
    _c("family", "text", "", "Family", "model family, or the block's kind"),
    _c("status", "text", "", "Status", "ok, unsupported or failed"),
    _c("reason", "text", "", "Reason", "why a row is not ok"),
    _c("runs", "int", "", "Runs", "timed inferences"),
    _c(
        "held_runs",
        "int",
        "",
        "Held runs",
        "untimed inferences after max_runs that held a power window open to min_s",
    ),
    _c("latency_ms_median", "float", "ms", "Median latency", f"median {_LATENCY}"),
    _c("latency_ms_mean", "float", "ms", "Mean latency", f"mean {_LATENCY}"),
    _c("latency_ms_std", "float", "ms", "Latency std", "standard deviation of the latency"),
    # a serial board's samples are its windows' means (see timing_note), not single inferences
    _c("latency_ms_min", "float", "ms", "Min latency", "fastest timed inference"),
    _c("latency_ms_max", "float", "ms", "Max latency", "slowest timed inference"),
    _c("latency_ms_p50", "float", "ms", "p50 latency", "50th percentile"),
    _c("latency_ms_p90", "float", "ms", "p90 latency", "90th percentile"),
    _c("latency_ms_p95", "float", "ms", "p95 latency", "95th percentile"),
    _c("latency_ms_p99", "float", "ms", "p99 latency", "99th percentile"),
    _c("latency_ms_iqr", "float", "ms", "Latency IQR", "interquartile range"),
    _c("latency_cv", "float", "", "CV", "coefficient of variation (std / mean)"),
    _c("latency_ms_ci_low", "float", "ms", "Median CI low", "distribution-free CI of the median"),
    _c("latency_ms_ci_high", "float", "ms", "Median CI high", "upper end of that interval"),
    _c("latency_ci_level", "float", "", "CI level", "confidence level of the interval (0.95)"),
    _c("latency_ci_halfwidth", "float", "", "CI half-width", "half the median's CI / median"),
    _c("latency_robust_cv", "float", "", "Robust CV", "MAD x 1.4826 / median"),
    _c(
        "latency_outlier_share",
        "float",
        "",
        "Outliers",
        "share of samples outside Q1 − 3 IQR .. Q3 + 3 IQR (outliers)",
    ),
    _c("latency_process_spread", "float", "", "Process spread", "max/min of per-process medians"),
    _c(
        "latency_window_spread",
        "float",
        "",
        "Window spread",
        "serial boards: fastest / slowest window throughput",
    ),  # fmt: skip
    _c(
        "unstable",
        "bool",
        "",
        "Unstable",
        "robust CV > 10%, process spread too wide, or (serial) window spread > 1.02",
    ),  # fmt: skip
    _c("unstable_reason", "text", "", "Unstable because", "which criterion flagged it"),
    _c("load_ms", "float", "ms", "Load", "model load and allocation"),
    _c("first_inference_ms", "float", "ms", "First inference", "kept apart from the timing"),
    _c("peak_rss_kb", "int", "KiB", "Peak memory", "agent's peak resident memory so far"),
    _c(
        "timing_note",
        "text",
        "",
        "Timing note",
        "max_runs cut the window / max_s or the budget (with the interval reached) before "
        "target_ci / serial: statistics over window means",
    ),  # fmt: skip
    _c("throughput_ips", "float", "images/s", "Throughput", "batch / median latency"),
    _c("max_batch", "int", "", "Max batch", "largest batch size that ran"),
    _c(
        "speedup",
        "float",
        "",
        "Speed-up",
        "schedule interleaved: median over rounds of the reference's round median / this "
        "format's round median (> 1: faster than speedup_reference)",
    ),  # fmt: skip
    _c("speedup_ci_low", "float", "", "Speed-up CI low", "distribution-free CI of that median"),
    _c("speedup_ci_high", "float", "", "Speed-up CI high", "upper end of that interval"),
    _c(
        "speedup_ci_level",
        "float",
        "",
        "Speed-up CI level",
        "its coverage: 0.95 from 6 rounds; below, the rounds' range, 1 - 2 / 2^rounds",
    ),  # fmt: skip
    _c("speedup_reference", "text", "", "Speed-up reference", "format the speed-up is against"),
    _c("params", "int", "", "Parameters", "trainable and other weights"),
    _c("macs", "int", "", "MACs", "multiply-accumulates per image"),
    _c("flops", "int", "FLOP", "FLOPs", "2 x MACs per image"),
    _c("achieved_flops", "float", "FLOP/s", "Achieved FLOPS", "throughput x FLOPs"),
    _c("model_size_bytes", "int", "B", "Model size", "converted model file(s)"),
    _c(
        "conversion_flags",
        "text",
        "",
        "Conversion flags",
        "Edge TPU: cpu_ops (operations left on the CPU), off_chip_parameters",
    ),  # fmt: skip
    _c("runtime_name", "text", "", "Runtime", "module that ran the model"),
    _c("runtime_version", "text", "", "Runtime version", "its version"),
    _c("runtime_details", "text", "", "Runtime details", "device, properties or providers used"),
    _c(
        "accelerator_fallback",
        "bool",
        "",
        "Fell back to CPU",
        "asked for an accelerator provider, got only the CPU",
    ),  # fmt: skip
    _c("threads", "int", "", "Threads", "thread count every runtime was told"),
    _c("cpu_model", "text", "", "CPU", "device's CPU model"),
    _c("hostname", "text", "", "Host", "device's host name"),
    _c("accuracy_samples", "int", "", "Accuracy samples", "dataset samples scored"),
    _c("accuracy_top1", "float", "", "Top-1", "top-1 accuracy on the device"),
    _c("accuracy_top5", "float", "", "Top-5", "top-5 accuracy (more than 5 classes)"),
    _c("reference_top1", "float", "", "Reference top-1", "float32 Keras model's top-1"),
    _c("accuracy_auc", "float", "", "AUC", "metric auc: ROC AUC of the reconstruction error"),
    _c("reference_auc", "float", "", "Reference AUC", "float32 Keras model's AUC"),
    _c(
        "accuracy_drop",
        "float",
        "",
        "Accuracy drop",
        "reference top-1 minus top-1 (metric auc: reference AUC minus AUC)",
    ),  # fmt: skip
    _c("accuracy_drop_limit", "float", "", "Drop limit", "the suite's max_accuracy_drop"),
    _c("accuracy_fail", "bool", "", "Accuracy fail", "accuracy drop beyond the suite's limit"),
    _c("agreement", "float", "", "Agreement", "top-1 agreement with the reference"),
    _c("vips", "float", "images/s", "VIPS", "top-1 x throughput (valid images per second)"),
    _c(
        "accuracy_informative",
        "bool",
        "",
        "Accuracy informative",
        "false: the reference's predictions are one class or at chance; no drop is given",
    ),  # fmt: skip
    _c(
        "accuracy_note",
        "text",
        "",
        "Accuracy note",
        "why accuracy is absent, or why it cannot show a wrong conversion",
    ),  # fmt: skip
    _c("power_w", "float", "W", "Power", "mean power over the timed window"),
    _c("idle_power_w", "float", "W", "Idle power", "mean power while idle before the run"),
    _c("active_power_w", "float", "W", "Active power", "power - idle power"),
    _c("power_energy_j", "float", "J", "Energy", "energy integrated over the timed windows"),
    _c(
        "energy_per_inference_mj",
        "float",
        "mJ",
        "Energy / inference",
        "energy / ((runs + held_runs) x batch)",
    ),
    _c("efficiency_ips_per_w", "float", "images/s/W", "Efficiency", "throughput / power"),
    _c("power_samples", "int", "", "Power samples", "power samples inside the timed windows"),
    _c("power_source", "text", "", "Power source", "the profile's power.source"),
    _c(
        "power_clock_uncertainty_ms",
        "float",
        "ms",
        "Power clock uncertainty",
        "a host meter's placement on the device clock: half the round trip",
    ),  # fmt: skip
    _c("power_note", "text", "", "Power note", "why power is absent"),
]
BY_NAME = {column.name: column for column in CATALOGUE}
NAMES = [column.name for column in CATALOGUE]


def names_of(dtype: str) -> list[str]:
    return [column.name for column in CATALOGUE if column.dtype == dtype]


def markdown() -> str:
    """The README's column table."""
    lines = ["| column | unit | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.unit} | {c.help} |" for c in CATALOGUE]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown() + "\n")
