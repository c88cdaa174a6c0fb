"""Host-side helpers around NVIDIA's trtexec: pure functions, no TensorRT and no GPU needed.

- `precision_path` says how a precision is reached on a TensorRT version: builder flags on
  TensorRT 10 and older (weak typing), the model's own types on TensorRT 11 and newer, which
  removed `--fp16`, `--int8` and `--calib` (strong typing only).
- `engine_cache_key` / `engine_cache_path` name an engine by everything that makes it specific:
  an engine only runs on the GPU model and TensorRT version it was built with
  (edgebench.devices.engine_cache keeps the engines built on devices by this key).
- `trtexec_build_argv` builds the argument list of an engine build (never a shell string).

Reading trtexec's own timings (`--exportTimes`, `--exportProfile`) is for the fidelity check of
benchmarks/tensorrt_fidelity.py only: edgebench.testing.trtexec_fidelity.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

PRECISIONS = ("fp32", "fp16", "int8")
STRONGLY_TYPED_FROM = 11  # first TensorRT major without the precision flags

# The ONNX model a precision path builds from (its `model` field; trtexec_build_argv checks the
# caller's `source_model` against it).
FP32_MODEL, FP16_MODEL, QDQ_MODEL = "fp32", "fp16", "qdq"
SOURCE_MODELS = (FP32_MODEL, FP16_MODEL, QDQ_MODEL)


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
