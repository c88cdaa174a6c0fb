"""The ONNX side of a TensorRT engine: the model it builds from, and the build input written
when the engine is built on the device.

fp32 and fp16 build from the onnx-fp32 model; int8 from a QDQ (explicitly quantized) copy that
ONNX Runtime's static quantizer calibrates on the workload's calibration inputs (the set
tflite-int8 calibrates on), never on TensorRT's random scales.

Built on the device (where the host has no trtexec), the conversion writes, beside its record:
    {format}.onnx        the model the engine builds from (fp32, or the calibrated QDQ model)
    {format}.build.json  the build spec: precision, source model, max batch, inputs
The dispatcher stages them as model.onnx and model.json; the agent's tensorrt_build reads them.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np

from edgebench.convert.trtexec import FP32_MODEL, QDQ_MODEL
from edgebench.fileio import atomic_path, sha256_file, write_json
from edgebench.formats import Format

SPEC_SUFFIX = ".build.json"  # staged as model.json (the stage keeps the last suffix)
WHERE = (
    "on the device, by the agent with TensorRT's Python builder, at its first run there (the "
    "precision path follows the TensorRT version found); the host keeps it under "
    "results/engines/ for the next run on a board like it"
)


def graph_inputs(path: Path) -> list[tuple[str, list[int]]]:
    """(name, dims) of the model's real inputs; -1 where a dimension is dynamic."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    found = []
    for tensor in graph.input:
        if tensor.name in weights:
            continue
        dims = tensor.type.tensor_type.shape.dim
        found.append((tensor.name, [d.dim_value if d.HasField("dim_value") else -1 for d in dims]))
    return found


def op_counts(path: Path) -> dict[str, int]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return dict(Counter(node.op_type for node in graph.node))


def quantize_qdq(source: Path, target: Path, calibration: np.ndarray) -> None:
    """A QDQ (explicitly quantized) copy of the ONNX model, as TensorRT wants it: symmetric
    int8 activations and per-channel weights, min-max calibrated on `calibration`."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    (name, _), *_ = graph_inputs(source)

    class Samples(CalibrationDataReader):
        def __init__(self):
            self.samples = iter(calibration.astype(np.float32))

        def get_next(self):
            sample = next(self.samples, None)
            return None if sample is None else {name: sample[np.newaxis]}

    quantize_static(
        str(source),
        str(target),
        Samples(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
    )


QUANTIZATION = "QDQ (onnxruntime quantize_static, symmetric, per-channel)"


def build_input_files(out: Path) -> tuple[Path, Path]:
    """The ONNX model and build spec a device build of `out` ({format}.engine) writes."""
    return out.with_suffix(".onnx"), out.with_suffix(SPEC_SUFFIX)


def write_build_input(source: Path, out: Path, fmt: Format, calibration, max_batch: int) -> dict:
    """Write the engine's build input for the device (see the module's docstring) and return
    the conversion record's facts: the ONNX model is the record's model file."""
    onnx_file, spec_file = build_input_files(out)
    model = QDQ_MODEL if fmt.precision == "int8" else FP32_MODEL
    with atomic_path(onnx_file) as partial:
        if model == QDQ_MODEL:
            quantize_qdq(source, partial, calibration())
        else:
            shutil.copyfile(source, partial)
    spec = {
        "build_on": "device",
        "precision": fmt.precision,
        "model": model,
        "max_batch": max_batch,
        "inputs": graph_inputs(onnx_file),
    }
    write_json(spec_file, spec)
    facts = {
        "model_file": onnx_file.name,
        "size_bytes": onnx_file.stat().st_size + spec_file.stat().st_size,
        "files": {path.name: sha256_file(path) for path in (onnx_file, spec_file)},
        "ops": op_counts(onnx_file),
        "max_batch": max_batch,
        "build": {**spec, "where": WHERE},
    }
    if model == QDQ_MODEL:
        facts["quantization"] = QUANTIZATION
    return facts


def remove_build_input(out: Path) -> None:
    """A device build's files, stale once the host has built the engine itself."""
    for path in build_input_files(out):
        path.unlink(missing_ok=True)
