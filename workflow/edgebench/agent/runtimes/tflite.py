"""LiteRT (ai_edge_litert), falling back to the older tflite_runtime package."""

from __future__ import annotations

import numpy as np

from . import Runtime, import_first, version_of


class LiteRT(Runtime):
    """A .tflite model through LiteRT's Interpreter (or tflite_runtime's, the same API)."""

    name = "tflite"
    modules = {
        "ai_edge_litert": "ai_edge_litert.interpreter:Interpreter",
        "tflite_runtime": "tflite_runtime.interpreter:Interpreter",
    }
    suffixes = (".tflite",)
    summary = (
        "the TFLite `Interpreter` with `num_threads` = threads, the input resized to the batch"
    )
    records = "module and version"

    def __init__(self, wanted: str | None = None):
        self.module, self._interpreter_class = import_first(type(self), wanted)
        self.version = version_of(self.module)

    def prepare(self, model_path, batch, threads):
        self._interpreter = self._interpreter_class(model_path=model_path, num_threads=threads)
        details = self._interpreter.get_input_details()[0]
        self._input = details
        self._interpreter.resize_tensor_input(details["index"], [batch, *details["shape"][1:]])
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]

    def input_spec(self):
        scale, zero = self._input["quantization"]
        quantization = (scale, zero) if scale else None
        return tuple(self._input["shape"]), np.dtype(self._input["dtype"]), quantization

    def feed(self, batch):
        self._interpreter.set_tensor(self._input["index"], batch)

    def infer(self):
        self._interpreter.invoke()

    def output(self):
        values = self._interpreter.get_tensor(self._output["index"])
        scale, zero = self._output["quantization"]
        if scale:
            return (values.astype(np.float32) - zero) * scale
        return values.astype(np.float32)
