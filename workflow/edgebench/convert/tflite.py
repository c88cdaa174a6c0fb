"""Keras -> TFLite in four precisions: fp32, fp16, dynamic-range and full-integer int8."""

from __future__ import annotations

import numpy as np

from edgebench.convert.interface import ModelConverter
from edgebench.formats import Format


def frozen_function(model):
    """The model as a frozen concrete function with a dynamic batch dimension."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32, name="input")
    function = tf.function(lambda x: model(x, training=False))
    return convert_variables_to_constants_v2(function.get_concrete_function(spec))


def convert(model, fmt: Format, calibration: np.ndarray) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen_function(model)])
    if fmt.precision != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt.precision == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if fmt.precision == "int8":
        converter.representative_dataset = lambda: ([sample[np.newaxis]] for sample in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def op_counts(path) -> dict[str, int]:
    from ai_edge_litert.interpreter import Interpreter

    counts: dict[str, int] = {}
    for op in Interpreter(model_path=str(path))._get_ops_details():
        counts[op["op_name"]] = counts.get(op["op_name"], 0) + 1
    return counts


class TfliteConverter(ModelConverter):
    """The TFLite converter, from the Keras model (float32, float16, dynamic range, int8)."""

    name = "tflite"
    tools = ("tensorflow", "keras", "ai-edge-litert", "numpy")
    rank = 10
    formats = tuple(
        Format(f"tflite-{precision}", "tflite", precision, ".tflite", "tensorflow", colour=colour)
        for precision, colour in (
            ("fp32", "#4c78a8"), ("fp16", "#72b7b2"), ("dynamic", "#54a24b"), ("int8", "#e4b524")
        )
    )  # fmt: skip
    convert = staticmethod(convert)
    op_counts = staticmethod(op_counts)
