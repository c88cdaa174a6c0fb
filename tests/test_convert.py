"""Conversion: float formats agree with Keras on real inputs, int8 runs, failures are rows."""

from __future__ import annotations

import numpy as np
import pytest
from edgebench.convert.engine import run_conversion
from edgebench.convert.job import convert_workload
from edgebench.fileio import read_json
from edgebench.images.engines import Engine, get_engine
from edgebench.settings import ConfigError, WorkloadSpec, load_catalog
from edgebench.testing.project import REPO
from edgebench.workloads import digits
from edgebench.workloads.build import build_workload


@pytest.fixture(scope="module")
def digits_workload(tmp_path_factory):
    """The trained digits CNN, built once for the module, plus its data."""
    root = tmp_path_factory.mktemp("digits")
    digits.prepare(root / "digits.npz")
    spec = load_catalog(REPO)["digits-cnn"]
    build_workload(spec, root / "w" / "model.keras", root / "w" / "meta.json", root / "digits.npz")
    return root


def run_tflite(path, x):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], x.shape)
    interpreter.allocate_tensors()
    if inp["dtype"] == np.int8:
        scale, zero = inp["quantization"]
        x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    y = interpreter.get_tensor(out["index"])
    if out["dtype"] == np.int8:
        scale, zero = out["quantization"]
        y = (y.astype(np.float32) - zero) * scale
    return y


def run_onnx(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def keras_outputs(root, x):
    import keras

    model = keras.models.load_model(root / "w" / "model.keras", compile=False)
    return model.predict(x, verbose=0)


@pytest.mark.parametrize(
    ("fmt", "tolerance"),
    [("tflite-fp32", 1e-5), ("tflite-fp16", 5e-3), ("tflite-dynamic", 5e-2), ("onnx-fp32", 1e-5)],
)
def test_float_formats_agree_with_keras_on_held_out_digits(digits_workload, fmt, tolerance):
    root = digits_workload
    record = convert_workload(root / "w", fmt, root / "out" / f"{fmt}.json")
    assert record["status"] == "ok", record["reason"]
    assert record["sha256"] and record["size_bytes"] > 0 and record["ops"]
    x = digits.load(root / "digits.npz")["x_test"][:200]
    runner = run_onnx if fmt.startswith("onnx") else run_tflite
    converted = runner(root / "out" / record["model_file"], x)
    reference = keras_outputs(root, x)
    assert np.abs(converted - reference).max() < tolerance
    assert (converted.argmax(1) == reference.argmax(1)).mean() >= 0.99


def test_int8_model_is_integer_in_and_out_and_still_classifies(digits_workload):
    root = digits_workload
    dataset = root / "digits.npz"
    record = convert_workload(
        root / "w", "tflite-int8", root / "out" / "int8.json", dataset=dataset
    )
    assert record["status"] == "ok", record["reason"]
    assert record["calibration"] == {"source": "dataset", "samples": 100, "seed": 0}
    data = digits.load(dataset)
    scores = run_tflite(root / "out" / record["model_file"], data["x_test"])
    accuracy = (scores.argmax(1) == data["y_test"]).mean()
    assert accuracy > 0.85
    assert "CONV_2D" in record["ops"]


def test_format_without_a_toolchain_is_an_unsupported_record(digits_workload):
    from edgebench.convert import edgetpu
    from edgebench.formats import FORMATS

    if edgetpu.missing_tool(FORMATS["edgetpu-int8"]) is None:
        pytest.skip("edgetpu_compiler is installed here")
    out = digits_workload / "out" / "tpu.json"
    record = convert_workload(digits_workload / "w", "edgetpu-int8", out)
    assert record["status"] == "unsupported" and "edgetpu_compiler" in record["reason"]
    assert read_json(out)["status"] == "unsupported"


def determinant_model(input_shape, classes, weights):
    """A model with an op TFLite has no builtin kernel for (MatrixDeterminant)."""
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="edgebench_tests")
    class Determinant(keras.layers.Layer):
        def call(self, x):
            return tf.linalg.det(x)

    inputs = keras.Input(shape=tuple(input_shape))
    features = keras.ops.expand_dims(Determinant()(inputs), -1)
    return keras.Model(inputs, keras.layers.Dense(classes)(features))


def test_converter_rejection_is_an_unsupported_record_with_its_reason(tmp_path):
    spec = WorkloadSpec(
        name="det",
        group="models",
        family="test",
        input_shape=[4, 4],
        weights="random",
        builder="test_convert:determinant_model",
        classes=2,
    )
    build_workload(spec, tmp_path / "w" / "model.keras", tmp_path / "w" / "meta.json")
    record = convert_workload(tmp_path / "w", "tflite-fp32", tmp_path / "fp32.json")
    assert record["status"] == "unsupported"
    assert "MatrixDeterminant" in record["reason"]
    assert convert_workload(tmp_path / "w", "onnx-fp32", tmp_path / "onnx.json")["status"] == "ok"


def test_crashed_converter_process_leaves_a_failed_record(tmp_path):
    record = tmp_path / "rec.json"
    code = run_conversion(
        Engine("none"), tmp_path / "missing", "tflite-fp32", record, tmp_path / "log", 1, 0
    )
    assert code != 0
    assert read_json(record)["status"] == "failed"
    assert "exited with code" in read_json(record)["reason"]


def test_missing_engine_is_a_clear_error_up_front(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError, match="containers=none"):
        get_engine("apptainer")
