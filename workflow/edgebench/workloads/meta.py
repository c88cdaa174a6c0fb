"""Static facts about a workload: parameters, MACs and FLOPs, counted once per model.

FLOPs are counted by TensorFlow's own profiler (``tf.compat.v1.profiler``) on the frozen
batch-1 graph. It counts a multiply-accumulate as two float operations, so MACs = FLOPs / 2.
"""

from __future__ import annotations

COUNTER_NAME = "tensorflow.profiler (float_operation)"


def count_flops(model) -> int:
    """Float operations of one batch-1 inference of a Keras model."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2_as_graph,
    )

    specs = [tf.TensorSpec([1, *tensor.shape[1:]], tensor.dtype) for tensor in model.inputs]
    function = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
    _, graph_def = convert_variables_to_constants_v2_as_graph(
        function.get_concrete_function(*specs)
    )
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        profile = tf.compat.v1.profiler.profile(graph=graph, options=options)
    return int(profile.total_float_ops)


def count_params(model) -> int:
    """All weights, trainable or not (batch-norm statistics included), as papers count them."""
    return int(model.count_params())


def counter_version() -> str:
    import tensorflow as tf

    return tf.__version__


def describe(model) -> dict:
    """Parameters, MACs and FLOPs of a Keras model, with the counter that produced them."""
    flops = count_flops(model)
    return {
        "params": count_params(model),
        "macs": flops // 2,
        "flops": flops,
        "flops_counter": {"name": COUNTER_NAME, "version": counter_version()},
        "input_shape": [list(t.shape[1:]) for t in model.inputs],
        "output_shape": [list(t.shape[1:]) for t in model.outputs],
    }
