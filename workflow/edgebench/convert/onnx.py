"""Keras -> ONNX (float32) with tf2onnx, in canonical form: the same workload gives the same
bytes every time, in every engine.

tf2onnx names the nodes and tensors it makes from process-wide counters (`Conv__18`,
`.../mul_1__6:0`) and writes the traced function's name (`__inference_<lambda>_5581`, another
counter) into the graph's doc string, so two conversions of one model differ in those. The
counters (in node, tensor and symbolic dimension names) are renumbered in order of first
appearance and the doc strings dropped; the graph, its weights and the names Keras gave are
kept as they are."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from edgebench.convert.formats import Format

OPSET = 17
GENERATED = re.compile(r"__(\d+)(?=$|:|/|_)")  # tf2onnx's counter suffix


def convert(model, fmt: Format, calibration: np.ndarray) -> bytes:
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec([None, *model.inputs[0].shape[1:]], tf.float32, name="input")]
    function = tf.function(lambda x: model(x, training=False))
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=OPSET)
    return canonical(proto).SerializeToString(deterministic=True)


def graphs(graph):
    """The graph and every subgraph of its nodes' attributes (If/Loop bodies), in order."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("g"):
                yield from graphs(attribute.g)
            for subgraph in attribute.graphs:
                yield from graphs(subgraph)


def canonical(proto):
    """The model with tf2onnx's generated name counters renumbered 1, 2, ... in order of first
    appearance and without doc strings: deterministic for a given model and toolchain."""
    numbers: dict[str, str] = {}

    def rename(name: str) -> str:
        return GENERATED.sub(lambda m: "__" + numbers.setdefault(m[1], str(len(numbers) + 1)), name)

    proto.doc_string = ""
    for graph in graphs(proto.graph):
        graph.doc_string = ""
        for value in graph.input:
            rename_value(value, rename)
        for value in graph.initializer:
            value.name = rename(value.name)
        for sparse in graph.sparse_initializer:
            sparse.values.name = rename(sparse.values.name)
        for node in graph.node:
            node.doc_string = ""
            node.name = rename(node.name)
            node.input[:] = [rename(n) for n in node.input]
            node.output[:] = [rename(n) for n in node.output]
        for value in [*graph.output, *graph.value_info]:
            rename_value(value, rename)
    return proto


def rename_value(value, rename) -> None:
    """A graph input, output or value info: its name and its symbolic dimensions' names
    (tf2onnx's `unk__32` for the batch dimension)."""
    value.name = rename(value.name)
    value.doc_string = ""
    types = [value.type]
    while types:
        kind = types.pop()
        for field in ("tensor_type", "sparse_tensor_type"):
            if kind.HasField(field):
                for dim in getattr(kind, field).shape.dim:
                    if dim.HasField("dim_param"):
                        dim.dim_param = rename(dim.dim_param)
        if kind.HasField("sequence_type"):
            types.append(kind.sequence_type.elem_type)
        if kind.HasField("optional_type"):
            types.append(kind.optional_type.elem_type)
        if kind.HasField("map_type"):
            types.append(kind.map_type.value_type)


def op_counts(path) -> dict[str, int]:
    import onnx

    return dict(Counter(node.op_type for node in onnx.load(str(path)).graph.node))
