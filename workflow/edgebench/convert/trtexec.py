"""Host-side helpers around NVIDIA's trtexec: pure functions, no TensorRT and no GPU needed.

- `parse_export_times` / `parse_export_profile` read what `trtexec --exportTimes=F` and
  `--exportProfile=F` write, in both the current and the older field names, into one schema;
  `trtexec_median_ms` is the figure a fidelity check sets beside the agent's own median.
- `precision_path` says how a precision is reached on a TensorRT version: builder flags on
  TensorRT 10 and older (weak typing), the model's own types on TensorRT 11 and newer, which
  removed `--fp16`, `--int8` and `--calib` (strong typing only).
- `engine_cache_key` / `engine_cache_path` name an engine by everything that makes it specific:
  an engine only runs on the GPU model and TensorRT version it was built with
  (edgebench.devices.engine_cache keeps the engines built on devices by this key).
- `trtexec_build_argv` / `trtexec_fidelity_argv` build argument lists (never shell strings).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from pathlib import Path

PRECISIONS = ("fp32", "fp16", "int8")
STRONGLY_TYPED_FROM = 11  # first TensorRT major without the precision flags

# The ONNX model a precision path builds from (its `model` field; trtexec_build_argv checks the
# caller's `source_model` against it).
FP32_MODEL, FP16_MODEL, QDQ_MODEL = "fp32", "fp16", "qdq"
SOURCE_MODELS = (FP32_MODEL, FP16_MODEL, QDQ_MODEL)

# --exportTimes: one object per timed iteration (warm-up iterations are not written).
CURRENT_TIME_FIELDS = ("startEnqMs", "endEnqMs", "startComputeMs", "endComputeMs", "computeMs")
CURRENT_TIME_TOTALS = ("latencyMs",)
OLD_TIME_FIELDS = ("startInMs", "inMs", "outMs")


def _load(text_or_json, what: str):
    """JSON text, bytes, a path to a file, or the already-parsed value."""
    if isinstance(text_or_json, Path):
        text_or_json = text_or_json.read_text()
    if isinstance(text_or_json, bytes):
        text_or_json = text_or_json.decode()
    if isinstance(text_or_json, str):
        try:
            return json.loads(text_or_json)
        except ValueError as error:
            raise ValueError(f"{what} is not JSON: {error}") from None
    return text_or_json


def _number(record: dict, key: str, index: int, what: str) -> float:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} iteration {index}: {key} is not a finite number: {value!r}")
    return float(value)


def parse_export_times(text_or_json) -> list[dict]:
    """The iterations of a `trtexec --exportTimes=F` file, one dict each, in one schema:

    `latency_ms` (host-to-device copy + compute + device-to-host copy: trtexec's "Latency"),
    `compute_ms` (trtexec's "GPU Compute Time"), `h2d_ms`, `d2h_ms`, `enqueue_ms`,
    `end_to_end_ms`, `start_ms` (the iteration's start on trtexec's clock) and `schema`
    ("current": `startEnqMs ... latencyMs, endToEndMs`; "old": `startInMs, inMs, outMs`);
    a field the file does not carry is None. Anything else is refused with a ValueError."""
    what = "trtexec --exportTimes output"
    data = _load(text_or_json, what)
    if not isinstance(data, list):
        raise ValueError(f"{what} must be a JSON list of iterations, not {type(data).__name__}")
    if not data:
        raise ValueError(f"{what} holds no iterations")
    records = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"{what} iteration {index} is not an object: {item!r}"[:200])
        if all(key in item for key in (*CURRENT_TIME_FIELDS, *CURRENT_TIME_TOTALS)):
            records.append(_current_times(item, index, what))
        elif all(key in item for key in OLD_TIME_FIELDS):
            records.append(_old_times(item, index, what))
        else:
            raise ValueError(
                f"{what} iteration {index} has neither the current fields "
                f"({', '.join(CURRENT_TIME_FIELDS + CURRENT_TIME_TOTALS)}) nor the older ones "
                f"({', '.join(OLD_TIME_FIELDS)}): it has {', '.join(sorted(item)) or 'none'}"
            )
    schemas = {record["schema"] for record in records}
    if len(schemas) > 1:
        raise ValueError(f"{what} mixes the current and the older field names")
    return records


def _optional(item: dict, key: str, index: int, what: str) -> float | None:
    return _number(item, key, index, what) if key in item else None


def _current_times(item: dict, index: int, what: str) -> dict:
    number = lambda key: _number(item, key, index, what)  # noqa: E731
    optional = lambda key: _optional(item, key, index, what)  # noqa: E731
    record = {
        "schema": "current",
        "start_ms": number("startEnqMs"),
        "enqueue_ms": number("endEnqMs") - number("startEnqMs"),
        "h2d_ms": optional("h2dMs"),
        "compute_ms": number("computeMs"),
        "d2h_ms": optional("d2hMs"),
        "latency_ms": number("latencyMs"),
        "end_to_end_ms": optional("endToEndMs"),
    }
    return _checked(record, index, what)


def _old_times(item: dict, index: int, what: str) -> dict:
    number = lambda key: _number(item, key, index, what)  # noqa: E731
    optional = lambda key: _optional(item, key, index, what)  # noqa: E731
    compute = optional("computeMs")
    if compute is None and "startComputeMs" in item and "endComputeMs" in item:
        compute = number("endComputeMs") - number("startComputeMs")
    if compute is None:
        raise ValueError(
            f"{what} iteration {index} (older field names) has no computeMs nor "
            "startComputeMs/endComputeMs: its latency cannot be formed"
        )
    latency = optional("latencyMs")
    if latency is None:
        latency = number("inMs") + compute + number("outMs")
    record = {
        "schema": "old",
        "start_ms": number("startInMs"),
        "enqueue_ms": None,
        "h2d_ms": number("inMs"),
        "compute_ms": compute,
        "d2h_ms": number("outMs"),
        "latency_ms": latency,
        "end_to_end_ms": optional("endToEndMs"),
    }
    return _checked(record, index, what)


def _checked(record: dict, index: int, what: str) -> dict:
    for key in ("compute_ms", "latency_ms", "h2d_ms", "d2h_ms"):
        if record[key] is not None and record[key] < 0:
            raise ValueError(f"{what} iteration {index}: {key} is negative ({record[key]})")
    return record


def trtexec_median_ms(records: list[dict], field: str = "latency_ms") -> float:
    """The median of one field over `parse_export_times` records. `latency_ms` compares with the
    agent's end_to_end timing (copies inside), `compute_ms` with its default timing (the
    enqueue and the synchronisation, the copies outside: trtexec --noDataTransfers makes its
    latency the compute time)."""
    values = [record[field] for record in records if record.get(field) is not None]
    if not values:
        raise ValueError(f"no iteration carries {field}")
    return statistics.median(values)


def parse_export_profile(text_or_json) -> dict:
    """A `trtexec --exportProfile=F` file: `[{"count": N}, {"name", "timeMs", "averageMs",
    "percentage", ...}...]` -> {"count": N, "layers": [{"name", "time_ms", "average_ms",
    "median_ms" (None where not written), "percentage"}...]}."""
    what = "trtexec --exportProfile output"
    data = _load(text_or_json, what)
    if not isinstance(data, list) or not data:
        raise ValueError(f"{what} must be a non-empty JSON list")
    head, *rows = data
    count = head.get("count") if isinstance(head, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f'{what} must start with {{"count": N}}, not {head!r}'[:200])
    layers = []
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ValueError(f"{what} entry {index} is not an object: {row!r}"[:200])
        missing = [k for k in ("name", "timeMs", "averageMs", "percentage") if k not in row]
        if missing or not isinstance(row["name"], str):
            raise ValueError(f"{what} entry {index} lacks {', '.join(missing) or 'a name'}")
        layers.append(
            {
                "name": row["name"],
                "time_ms": _number(row, "timeMs", index, what),
                "average_ms": _number(row, "averageMs", index, what),
                "median_ms": _optional(row, "medianMs", index, what),
                "percentage": _number(row, "percentage", index, what),
            }
        )
    return {"count": count, "layers": layers}


def tensorrt_major(trt_version: str) -> int:
    match = re.match(r"\s*v?(\d+)(\.\d+)*", str(trt_version))
    if not match:
        raise ValueError(f"not a TensorRT version: {trt_version!r}")
    return int(match[1])


def precision_path(trt_version: str, precision: str) -> dict:
    """How `precision` is reached on TensorRT `trt_version`: {"path": "flags" | "strongly-typed",
    "tensorrt_major", "precision", "trtexec_args" (the precision's own arguments), "model"
    (the ONNX model it builds from: fp32, fp16 (cast) or qdq (Q/DQ nodes)), "needs" (what the
    build needs, in words)}. The record of a conversion keeps it."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"TensorRT has no {precision!r} path here (known: {', '.join(PRECISIONS)})"
        )
    major = tensorrt_major(trt_version)
    base = {"tensorrt_major": major, "precision": precision}
    calibration = (
        "the workload's calibration set (the inputs tflite-int8 calibrates on), never "
        "trtexec's random scales"
    )
    if major < STRONGLY_TYPED_FROM:
        paths = {
            "fp32": ([], FP32_MODEL, "the fp32 ONNX model"),
            "fp16": (
                ["--fp16"],
                FP32_MODEL,
                "the fp32 ONNX model; --fp16 lets TensorRT choose fp16 kernels where faster "
                "(weak typing)",
            ),
            "int8": (
                ["--int8"],
                QDQ_MODEL,
                "a Q/DQ ONNX model calibrated on " + calibration + "; or the fp32 model with a "
                "calibration cache (--calib) written from that same set",
            ),
        }
        args, model, needs = paths[precision]
        return {"path": "flags", **base, "trtexec_args": args, "model": model, "needs": needs}
    paths = {
        "fp32": (FP32_MODEL, "the fp32 ONNX model (the precision comes from the model's types)"),
        "fp16": (
            FP16_MODEL,
            f"an ONNX model already cast to fp16 (e.g. NVIDIA ModelOpt AutoCast: python -m "
            f"modelopt.onnx.autocast --onnx_path model.onnx): TensorRT {major} removed --fp16 "
            "and takes every precision from the model",
        ),
        "int8": (
            QDQ_MODEL,
            f"a Q/DQ ONNX model quantized on {calibration}: TensorRT {major} removed --int8 "
            "and --calib",
        ),
    }
    model, needs = paths[precision]
    return {"path": "strongly-typed", **base, "trtexec_args": [], "model": model, "needs": needs}


# Facts (agent.facts) that make an engine specific to a board: its GPU, its L4T/JetPack image
# (CUDA, cuDNN, driver) and its architecture. Hostname, clocks, governor... do not.
ENGINE_FACTS = (
    "board",
    "l4t_release",
    "machine",
    "gpu",
    "gpu_name",
    "gpu_compute_capability",
    "cuda",
    "cuda_version",
    "jetpack",
)


def _fact(value):
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()
        return value or None
    return value


def engine_cache_key(
    onnx_sha256: str,
    board_facts: dict,
    trt_version: str,
    precision: str,
    dla_core: int | None,
    *,
    max_batch: int | None = None,
    workspace_mb: int | None = None,
) -> str:
    """sha256 hex of a canonical JSON of what makes an engine specific: the ONNX model, the
    board's GPU and image (ENGINE_FACTS; a missing fact and an empty one are the same), the
    TensorRT version, the precision, the DLA core and the build's settings (the largest batch
    of its optimization profile, the workspace limit)."""
    if not re.fullmatch(r"[0-9a-fA-F]{64}", onnx_sha256 or ""):
        raise ValueError(f"not a sha256 hex digest: {onnx_sha256!r}")
    fields = {
        "onnx_sha256": onnx_sha256.lower(),
        "facts": {key: _fact(board_facts.get(key)) for key in ENGINE_FACTS},
        "tensorrt": str(trt_version).strip(),
        "precision": precision,
        "dla_core": None if dla_core is None else int(dla_core),
        "max_batch": None if max_batch is None else int(max_batch),
        "workspace_mb": None if workspace_mb is None else int(workspace_mb),
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def engine_cache_path(root, key: str) -> Path:
    """root/<first two hex digits>/<key>.engine"""
    if not re.fullmatch(r"[0-9a-f]{64}", key):
        raise ValueError(f"not an engine cache key: {key!r}")
    return Path(root) / key[:2] / f"{key}.engine"


def dla_args(dla_core: int | None) -> list[str]:
    if dla_core is None:
        return []
    if isinstance(dla_core, bool) or int(dla_core) < 0:
        raise ValueError(f"not a DLA core: {dla_core!r}")
    # layers the DLA cannot run go to the GPU rather than failing the build
    return [f"--useDLACore={int(dla_core)}", "--allowGPUFallback"]


def trtexec_build_argv(
    onnx,
    engine,
    precision_path: dict,
    calibration_cache=None,
    dla_core: int | None = None,
    *,
    source_model: str = FP32_MODEL,
    trtexec: str = "trtexec",
    extra: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """trtexec's arguments to build `engine` from `onnx` along `precision_path`.
    `source_model` says what the ONNX file is (fp32, fp16 (cast) or qdq); it must be the model
    the path builds from, except that TensorRT 10's int8 also takes the fp32 model with a
    `calibration_cache`. Refused (ValueError): a calibration cache on TensorRT 11, int8 with
    neither Q/DQ nodes nor a cache (trtexec would quantize with random scales), a model
    that does not give the precision asked for."""
    if source_model not in SOURCE_MODELS:
        raise ValueError(f"source_model must be one of {', '.join(SOURCE_MODELS)}")
    path, precision = precision_path["path"], precision_path["precision"]
    needed = precision_path["model"]
    argv = [trtexec, f"--onnx={onnx}", f"--saveEngine={engine}", *precision_path["trtexec_args"]]
    if calibration_cache is not None:
        if path != "flags":
            raise ValueError(
                f"TensorRT {precision_path['tensorrt_major']} removed --calib: "
                + precision_path["needs"]
            )
        if precision != "int8":
            raise ValueError(f"a calibration cache is for int8, not {precision}")
        argv.append(f"--calib={calibration_cache}")
        needed = FP32_MODEL
    if source_model != needed:
        raise ValueError(
            f"{precision} on TensorRT {precision_path['tensorrt_major']} needs "
            f"{precision_path['needs']}; the model given is {source_model}"
        )
    return argv + dla_args(dla_core) + list(extra)


def _quoted(name: str) -> str:
    """trtexec splits a shape spec at ':' unless the tensor name is quoted (it reads the quotes
    itself: no shell involved)."""
    return f"'{name}'" if ":" in name else name


def trtexec_fidelity_argv(
    engine,
    times_file,
    *,
    trtexec: str = "trtexec",
    shapes: dict[str, tuple[int, ...]] | None = None,
    dla_core: int | None = None,
    end_to_end: bool = False,
    iterations: int = 100,
    warmup_ms: int = 200,
    duration_s: int = 3,
    profile_file=None,
) -> list[str]:
    """trtexec timing a built engine the way the agent times it, for a fidelity check:
    `--loadEngine=E --exportTimes=F`; without `end_to_end`, --noDataTransfers (the agent's
    default timing has the copies outside). `shapes` ({input: shape}) picks the batch of a
    dynamic-batch engine. Compare `trtexec_median_ms(parse_export_times(F))` with the agent."""
    argv = [
        trtexec,
        f"--loadEngine={engine}",
        f"--exportTimes={times_file}",
        f"--iterations={int(iterations)}",
        f"--warmUp={int(warmup_ms)}",
        f"--duration={int(duration_s)}",
    ]
    if shapes:
        spec = ",".join(
            f"{_quoted(name)}:{'x'.join(str(int(d)) for d in shape)}"
            for name, shape in shapes.items()
        )
        argv.append(f"--shapes={spec}")
    if not end_to_end:
        argv.append("--noDataTransfers")
    if profile_file is not None:
        argv += ["--dumpProfile", f"--exportProfile={profile_file}"]
    if dla_core is not None:
        argv.append(f"--useDLACore={int(dla_core)}")
    return argv
