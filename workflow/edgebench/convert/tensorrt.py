"""ONNX -> TensorRT engine: built on the device by default, or on the host with NVIDIA's trtexec.

An engine only runs on the GPU model and TensorRT version it was built with, so where the host
has no trtexec (no `tensorrt` image on an x86 GPU host), the conversion writes the engine's build
input instead (edgebench.convert.tensorrt_onnx: the ONNX model and a build spec) and the agent
builds the engine on the board (edgebench.agent.tensorrt_build); the host caches what comes back
(edgebench.devices.engine_cache). The record's `build` says which (`build_on`: device | host).

On the host: fp32 and fp16 build from the onnx-fp32 file (`--fp16` for the latter). int8 uses
TensorRT's explicit quantization: a QDQ model calibrated on the workload's calibration inputs
(the same set tflite-int8 calibrates on, never trtexec's random scales), built with `--int8`.
TensorRT 11 removed the precision flags: there fp32 and int8 (QDQ) build from the model's own
types, and fp16 needs a model cast to fp16 beforehand, which this converter does not write yet
(an unsupported record says so). The path taken is recorded (`precision_path`, see
edgebench.convert.trtexec). The engine has a dynamic batch dimension from 1 to MAX_BATCH.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

from edgebench.convert.interface import FileConverter
from edgebench.convert.tensorrt_onnx import (
    QUANTIZATION,
    graph_inputs,
    quantize_qdq,
    remove_build_input,
    write_build_input,
)
from edgebench.convert.trtexec import FP32_MODEL, QDQ_MODEL, precision_path, trtexec_build_argv
from edgebench.formats import Format

CALIBRATES = True  # tensorrt-int8 calibrates on the workload's own inputs
TRTEXEC = ("trtexec", "/usr/src/tensorrt/bin/trtexec")
MAX_BATCH = 64
TIMEOUT_S = 1800


class TrtexecFailed(RuntimeError):
    """trtexec refused the model; the message holds its own error lines."""


def trtexec() -> str | None:
    for candidate in TRTEXEC:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def missing_tool(fmt: Format) -> str | None:
    """Without trtexec the engine is built on the device: only the ONNX side is needed here."""
    for module in ("onnx", "onnxruntime") if fmt.precision == "int8" else ("onnx",):
        if importlib.util.find_spec(module) is None:
            return f"{fmt.name} needs the {module} Python package, which is not installed here"
    return None


def shape_flags(inputs: list[tuple[str, list[int]]], max_batch: int = MAX_BATCH) -> list[str]:
    """--minShapes/--optShapes/--maxShapes for inputs with a dynamic batch dimension."""
    spec = {"min": [], "opt": [], "max": []}
    for name, dims in inputs:
        if not dims or dims[0] != -1:
            continue
        if any(d == -1 for d in dims[1:]):
            raise TrtexecFailed(f"input {name} has dynamic dimensions besides the batch: {dims}")
        quoted = f"'{name}'" if ":" in name else name
        rest = "".join(f"x{d}" for d in dims[1:])
        for key, batch in (("min", 1), ("opt", 1), ("max", max_batch)):
            spec[key].append(f"{quoted}:{batch}{rest}")
    if not spec["min"]:
        return []
    return [f"--{key}Shapes={','.join(values)}" for key, values in spec.items()]


def version_from(output: str) -> str | None:
    match = re.search(r"\[TensorRT v(\d+)\]", output)
    if not match:
        return None
    number = int(match[1])
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def layer_types(path: Path) -> dict[str, int]:
    try:
        layers = json.loads(path.read_text()).get("Layers", [])
    except (OSError, ValueError):
        return {}
    return dict(Counter(layer["LayerType"] for layer in layers if isinstance(layer, dict)))


def trtexec_version(tool: str) -> str | None:
    """The TensorRT version trtexec reports (its first line, even for --help), or None."""
    try:
        result = subprocess.run([tool, "--help"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return version_from(result.stdout + result.stderr)


def convert_file(source: Path, out: Path, fmt: Format, calibration) -> dict:
    """The engine built here with trtexec where it is installed, else the build input for the
    device (edgebench.convert.tensorrt_onnx)."""
    tool = trtexec()
    if tool is None:
        return write_build_input(source, out, fmt, calibration, MAX_BATCH)
    facts = build_on_host(tool, source, out, fmt, calibration)
    remove_build_input(out)
    return facts


def build_on_host(tool: str, source: Path, out: Path, fmt: Format, calibration) -> dict:
    """The engine built by trtexec into `out`, and the record's facts."""
    version = trtexec_version(tool)
    # an unknown version is taken for TensorRT 10's flags (the older trtexec output)
    path = precision_path(version or "10", fmt.precision)
    with tempfile.TemporaryDirectory(prefix=f".{out.stem}.", dir=out.parent) as tmp:
        onnx_file, engine, layers = source, Path(tmp) / out.name, Path(tmp) / "layers.json"
        extra: dict = {"precision_path": {**path, "tensorrt": version}}
        model = FP32_MODEL
        if fmt.precision == "int8":
            onnx_file, model = Path(tmp) / "qdq.onnx", QDQ_MODEL
            quantize_qdq(source, onnx_file, calibration())
            extra["quantization"] = QUANTIZATION
        report = [
            "--skipInference", "--profilingVerbosity=detailed", f"--exportLayerInfo={layers}",
            *shape_flags(graph_inputs(onnx_file)),
        ]  # fmt: skip
        # refuses a model that cannot give the precision (fp16 on TensorRT 11: no cast model)
        command = trtexec_build_argv(
            onnx_file, engine, path, source_model=model, trtexec=tool, extra=report
        )
        print("$ " + " ".join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
        output = result.stdout + result.stderr
        print(output)
        if result.returncode != 0 or not engine.is_file():
            errors = [line.strip() for line in output.splitlines() if "[E]" in line]
            tail = errors or output.strip().splitlines()[-3:]
            raise TrtexecFailed(
                f"trtexec exited with code {result.returncode}: " + " | ".join(tail)
            )
        ops = layer_types(layers)
        os.replace(engine, out)
    return {
        "ops": ops,
        "max_batch": MAX_BATCH,
        "build": {"build_on": "host", "precision": fmt.precision, "max_batch": MAX_BATCH},
        "tool_versions": {"tensorrt": version_from(output) or version},
        **extra,
    }


class TensorrtConverter(FileConverter):
    """TensorRT engines (or their build input, built on the board), from the ONNX file."""

    name = "tensorrt"
    tools = ("onnx", "onnxruntime", "numpy")
    rank = 30
    formats = tuple(
        Format(
            f"tensorrt-{precision}",
            "tensorrt",
            precision,
            ".engine",
            "tensorrt",
            "onnx-fp32",
            colour,
        )
        for precision, colour in (("fp32", "#76b041"), ("fp16", "#a0c95f"), ("int8", "#4f7a28"))
    )
    calibrates = CALIBRATES
    missing_tool = staticmethod(missing_tool)
    convert_file = staticmethod(convert_file)
