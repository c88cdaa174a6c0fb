"""Formats made by vendor tools from another format's file: TensorRT and OpenVINO from ONNX,
Edge TPU from int8 TFLite. Where the vendor tool is missing the record says so; the parts that
run on a CPU (the int8 QDQ model TensorRT builds from) are run for real."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from edgebench.convert import edgetpu, openvino, tensorrt
from edgebench.convert.job import convert_workload
from edgebench.fileio import write_json
from edgebench.formats import FORMATS
from edgebench.images.catalog import images_for


def test_vendor_formats_name_the_format_they_are_made_from():
    assert {f: FORMATS[f].source for f in FORMATS if FORMATS[f].source} == {
        "tensorrt-fp32": "onnx-fp32",
        "tensorrt-fp16": "onnx-fp32",
        "tensorrt-int8": "onnx-fp32",
        "edgetpu-int8": "tflite-int8",
        "openvino-fp32": "onnx-fp32",
        "openvino-int8": "onnx-fp32",
    }
    assert images_for(["tflite-fp32", "onnx-fp32"]) == ["tensorflow"]
    assert images_for(["openvino-fp32"]) == ["openvino", "tensorflow"]
    assert images_for(["edgetpu-int8", "tensorrt-int8"]) == ["edgetpu", "tensorflow", "tensorrt"]


@pytest.mark.parametrize(
    ("fmt", "module", "tool"),
    [
        ("edgetpu-int8", edgetpu, "edgetpu_compiler"),
        ("openvino-fp32", openvino, "openvino"),
    ],
)
def test_missing_vendor_tool_is_an_unsupported_record_naming_it(tmp_path, fmt, module, tool):
    if module.missing_tool(FORMATS[fmt]) is None:
        pytest.skip(f"{tool} is installed here, so its conversion is not unsupported")
    write_json(tmp_path / "w" / "meta.json", {"workload": "w"})
    record = convert_workload(tmp_path / "w", fmt, tmp_path / "out" / f"{fmt}.json")
    assert record["status"] == "unsupported"
    assert tool in record["reason"] and "containers=docker" in record["reason"]


@pytest.fixture(scope="module")
def digits_onnx(tmp_path_factory):
    """The trained digits CNN converted to ONNX (the source TensorRT builds from), and its data."""
    from edgebench.settings import load_catalog
    from edgebench.testing.project import REPO
    from edgebench.workloads import digits
    from edgebench.workloads.build import build_workload

    root = tmp_path_factory.mktemp("digits-onnx")
    digits.prepare(root / "digits.npz")
    spec = load_catalog(REPO)["digits-cnn"]
    build_workload(spec, root / "w" / "model.keras", root / "w" / "meta.json", root / "digits.npz")
    record = convert_workload(root / "w", "onnx-fp32", root / "out" / "onnx-fp32.json")
    assert record["status"] == "ok", record["reason"]
    return root / "out" / "onnx-fp32.onnx", digits.load(root / "digits.npz")


def onnx_outputs(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_tensorrt_int8_source_is_a_symmetric_qdq_model_that_still_classifies(digits_onnx, tmp_path):
    import onnx
    from onnx import numpy_helper

    source, data = digits_onnx
    qdq = tmp_path / "qdq.onnx"
    tensorrt.quantize_qdq(source, qdq, data["x_train"][:100])
    model = onnx.load(str(qdq))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    zero_points = [
        numpy_helper.to_array(init) for init in model.graph.initializer if "zero_point" in init.name
    ]
    assert zero_points and all((z == 0).all() for z in zero_points)  # symmetric
    assert {z.dtype for z in zero_points} <= {np.dtype(np.int8), np.dtype(np.int32)}  # int32: bias
    reference = onnx_outputs(source, data["x_test"])
    quantized = onnx_outputs(qdq, data["x_test"])
    assert (quantized.argmax(1) == data["y_test"]).mean() > 0.85
    assert (quantized.argmax(1) == reference.argmax(1)).mean() >= 0.95


def test_tensorrt_engine_covers_the_batch_sweep_with_dynamic_shapes(digits_onnx):
    inputs = tensorrt.graph_inputs(digits_onnx[0])
    assert inputs == [("input", [-1, 8, 8, 1])]
    assert tensorrt.shape_flags(inputs, max_batch=16) == [
        "--minShapes=input:1x8x8x1",
        "--optShapes=input:1x8x8x1",
        "--maxShapes=input:16x8x8x1",
    ]
    assert tensorrt.shape_flags([("x", [1, 3])]) == []  # static: nothing to say
    assert tensorrt.version_from("&&&& RUNNING TensorRT.trtexec [TensorRT v101303]") == "10.13.3"


# The operation table `edgetpu_compiler --show_operations` prints (format of Coral's docs).
COMPILER_OUTPUT = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 96 ms.

Input model: model.tflite
Output model: model_edgetpu.tflite
Number of Edge TPU subgraphs: 1
Total number of operations: 7
Operation log: model_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU.
Number of operations that will run on Edge TPU: 5
Number of operations that will run on CPU: 2

Operator                       Count      Status

CONV_2D                        2          Mapped to Edge TPU
FULLY_CONNECTED                2          Mapped to Edge TPU
RESHAPE                        1          Mapped to Edge TPU
SOFTMAX                        1          Operation is working on an unsupported data type
QUANTIZE                       1          More than one subgraph is not supported
"""


def test_edgetpu_operation_table_becomes_the_op_mapping():
    rows = edgetpu.parse_operations(COMPILER_OUTPUT)
    assert [r["op"] for r in rows] == [
        "CONV_2D",
        "FULLY_CONNECTED",
        "RESHAPE",
        "SOFTMAX",
        "QUANTIZE",
    ]
    assert sum(r["count"] for r in rows if r["status"] == "Mapped to Edge TPU") == 5
    assert rows[3]["status"] == "Operation is working on an unsupported data type"


@pytest.mark.skipif(shutil.which("edgetpu_compiler") is None, reason="no edgetpu_compiler here")
def test_edgetpu_compiler_here_is_parsed():
    import subprocess

    output = subprocess.run(["edgetpu_compiler", "--version"], capture_output=True, text=True)
    assert "Edge TPU Compiler version" in output.stdout + output.stderr
