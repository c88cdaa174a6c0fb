"""ONNX -> OpenVINO IR: float32 (the OpenVINO model converter, on CPU), and int8 (that IR
quantized after training by NNCF, calibrated on the same representative inputs as tflite-int8).

The IR is two files, {format}.xml (the graph) and {format}.bin (the weights, kept in float32:
OpenVINO's default of compressing weights to float16 is switched off)."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

from edgebench.convert.interface import FileConverter
from edgebench.formats import Format

BOOKKEEPING_OPS = ("Parameter", "Result", "Constant")
CALIBRATES = True  # int8 is quantized here (NNCF), not inherited from the source format


def missing_tool(fmt: Format) -> str | None:
    if importlib.util.find_spec("openvino") is None:
        return (
            f"{fmt.name} needs the openvino Python package, which is not installed here; "
            "the openvino image has it (--config containers=docker)"
        )
    if fmt.precision == "int8" and importlib.util.find_spec("nncf") is None:
        return (
            f"{fmt.name} needs NNCF (post-training quantization), which is not installed here "
            "(nor in the openvino image yet); run it with --config containers=none"
        )
    return None


def quantized(model, calibration):
    """NNCF post-training quantization on the representative inputs, one sample per item."""
    import nncf

    samples = calibration()
    dataset = nncf.Dataset(list(samples), lambda sample: sample[np.newaxis].astype(np.float32))
    return nncf.quantize(model, dataset, subset_size=len(samples))


def convert_file(source: Path, out: Path, fmt: Format, calibration) -> dict:
    import openvino as ov

    model = ov.convert_model(str(source))
    versions = {"openvino": ov.get_version()}
    if fmt.precision == "int8":
        import nncf

        model = quantized(model, calibration)
        versions["nncf"] = nncf.__version__
    weights = out.with_suffix(".bin")
    with tempfile.TemporaryDirectory(prefix=f".{out.stem}.", dir=out.parent) as tmp:
        xml = Path(tmp) / out.name
        ov.save_model(model, str(xml), compress_to_fp16=False)
        os.replace(xml.with_suffix(".bin"), weights)
        os.replace(xml, out)
    return {
        "ops": op_counts(model),
        "extra_files": [weights],
        "tool_versions": versions,
    }


def op_counts(model) -> dict[str, int]:
    types = (op.get_type_name() for op in model.get_ordered_ops())
    return dict(Counter(t for t in types if t not in BOOKKEEPING_OPS))


class OpenvinoConverter(FileConverter):
    """The OpenVINO model converter (and NNCF for int8), from the ONNX file."""

    name = "openvino"
    tools = ("openvino", "numpy")
    rank = 50
    formats = tuple(
        Format(
            f"openvino-{precision}", "openvino", precision, ".xml", "openvino", "onnx-fp32", colour
        )
        for precision, colour in (("fp32", "#7c5ba6"), ("int8", None))
    )
    calibrates = CALIBRATES
    missing_tool = staticmethod(missing_tool)
    convert_file = staticmethod(convert_file)
