"""Keras -> ONNX (float32) with tf2onnx."""

from __future__ import annotations

from collections import Counter

import numpy as np

from edgebench.convert.formats import Format

OPSET = 17


def convert(model, fmt: Format, calibration: np.ndarray) -> bytes:
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32, name="input")]
    function = tf.function(lambda x: model(x, training=False))
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=OPSET)
    return proto.SerializeToString()


def op_counts(path) -> dict[str, int]:
    import onnx

    return dict(Counter(node.op_type for node in onnx.load(str(path)).graph.node))
