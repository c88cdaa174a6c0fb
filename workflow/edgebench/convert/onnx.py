"""Keras -> ONNX (float32) with tf2onnx, in canonical form: the same workload gives the same
bytes every time, in every engine.

tf2onnx names the nodes and tensors it makes from process-wide counters (`Conv__18`,
`.../mul_1__6:0`, the symbolic batch dimension `unk__32`), writes the traced function's name
(`__inference_<lambda>_5581`, another counter) into the graph's doc string, and orders and
names its constants in an order that changes from process to process (hash order: of two equal
constants it merges, either name may stay). So the counters are renumbered in order of first
appearance, the doc strings dropped, and every constant (initializer) named after where it is
first used (`<node>/input_<slot>`) and stored in that order. The graph, its weights and the
names of the nodes Keras named are kept as they are."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from edgebench.convert.interface import ModelConverter
from edgebench.formats import Format

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
    """The model, deterministic for a given model and toolchain: tf2onnx's name counters
    renumbered 1, 2, ... in order of first appearance, constants named after their first use
    and stored in that order, no doc strings."""
    numbers: dict[str, str] = {}
    constants: dict[str, str] = {}  # initializer name -> canonical name, every graph

    def renumber(name: str) -> str:
        return GENERATED.sub(lambda m: "__" + numbers.setdefault(m[1], str(len(numbers) + 1)), name)

    def rename(name: str) -> str:
        return constants.get(name) or renumber(name)

    proto.doc_string = ""
    for graph in graphs(proto.graph):
        graph.doc_string = ""
        interface = {value.name for value in graph.input}
        initializers = {t.name: t for t in graph.initializer if t.name not in interface}
        taken = set(interface) | {o for node in graph.node for o in node.output}
        for value in graph.input:
            rename_value(value, rename)
        first_use = []
        for node in graph.node:
            node.doc_string = ""
            node.name = renumber(node.name)
            for slot, name in enumerate(node.input):
                if name in initializers and name not in constants:
                    constants[name] = unique(f"{node.name}/input_{slot}", taken)
                    first_use.append(initializers[name])
            node.input[:] = [rename(n) for n in node.input]
            node.output[:] = [rename(n) for n in node.output]
        unused = sorted(
            (t for name, t in initializers.items() if name not in constants),
            key=lambda t: (t.SerializeToString(deterministic=True), t.name),
        )
        for tensor in unused:
            constants[tensor.name] = unique("unused_constant", taken)
        for tensor in graph.initializer:
            tensor.name = rename(tensor.name)
        ordered = [*first_use, *unused]
        ordered += [t for t in graph.initializer if all(t is not o for o in ordered)]
        copies = [type(t)() for t in ordered]
        for copy, tensor in zip(copies, ordered, strict=True):
            copy.CopyFrom(tensor)
        del graph.initializer[:]
        graph.initializer.extend(copies)
        for sparse in graph.sparse_initializer:
            sparse.values.name = rename(sparse.values.name)
        for value in [*graph.output, *graph.value_info]:
            rename_value(value, rename)
    return proto


def unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 1
    while candidate in taken:
        number += 1
        candidate = f"{name}_{number}"
    taken.add(candidate)
    return candidate


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


class OnnxConverter(ModelConverter):
    """tf2onnx, from the Keras model."""

    name = "onnx"
    tools = ("tensorflow", "keras", "tf2onnx", "onnx", "numpy")
    rank = 20
    formats = (Format("onnx-fp32", "onnx", "fp32", ".onnx", "tensorflow", colour="#f58518"),)
    mem_mb_per_model_mb = 72  # tf2onnx holds several copies of the graph (ResNet50: 7.9 GB)
    convert = staticmethod(convert)
    op_counts = staticmethod(op_counts)
