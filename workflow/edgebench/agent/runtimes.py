"""Runtimes behind a two-call interface: `prepare()` loads and initialises, `infer()` runs.

Adding a runtime is one new class registered in RUNTIMES under its runtime family.
"""

from __future__ import annotations

import importlib

import numpy as np


class RuntimeUnavailable(RuntimeError):
    """No module that can run this format is installed on the device."""


class Runtime:
    runtime = ""  # the runtime family (edgebench.formats Format.runtime) it runs
    name = ""
    version = ""

    def prepare(self, model_path: str, batch: int, threads: int) -> None:
        """Load for `batch` inputs, computing on exactly `threads` threads."""
        raise NotImplementedError

    def input_spec(self) -> tuple[tuple[int, ...], np.dtype, tuple[float, int] | None]:
        """(shape with batch, dtype, (scale, zero_point) for quantized inputs or None)."""
        raise NotImplementedError

    def feed(self, batch: np.ndarray) -> None:
        raise NotImplementedError

    def infer(self) -> None:
        """Run the fed batch: the only call the timing loop times."""
        raise NotImplementedError

    def output(self) -> np.ndarray:
        """The first output, dequantized to float32."""
        raise NotImplementedError


def _import_first(candidates: list[tuple[str, str]], wanted: str | None = None):
    """The first candidate module that imports; only `wanted` (a top-level module name, from
    the device profile's `runtimes`) when one is named."""
    if wanted is not None:
        candidates = [c for c in candidates if c[0].split(".")[0] == wanted]
        if not candidates:
            raise RuntimeUnavailable(f"the agent cannot drive {wanted!r} for this format")
    for module_name, attribute in candidates:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return module_name, getattr(module, attribute)
    names = ", ".join(name for name, _ in candidates)
    raise RuntimeUnavailable(f"no runtime installed for this format (tried {names})")


class LiteRT(Runtime):
    """LiteRT (ai_edge_litert), falling back to the older tflite_runtime package."""

    runtime = "tflite"
    CANDIDATES = [
        ("ai_edge_litert.interpreter", "Interpreter"),
        ("tflite_runtime.interpreter", "Interpreter"),
    ]

    def __init__(self, wanted: str | None = None):
        module_name, self._interpreter_class = _import_first(self.CANDIDATES, wanted)
        self.name = module_name.split(".")[0]
        self.version = _version(self.name)

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


class OnnxRuntime(Runtime):
    runtime = "onnx"
    DTYPES = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}

    def __init__(self, wanted: str | None = None):
        _, self._ort = _import_first([("onnxruntime", "InferenceSession")], wanted)
        import onnxruntime

        self._module = onnxruntime
        self.name, self.version = "onnxruntime", onnxruntime.__version__

    def prepare(self, model_path, batch, threads):
        options = self._module.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = self._ort(model_path, options, providers=["CPUExecutionProvider"])
        spec = self._session.get_inputs()[0]
        self._name = spec.name
        self._shape = (batch, *spec.shape[1:])
        self._dtype = np.dtype(self.DTYPES.get(spec.type, np.float32))
        self._feed = {}
        self._outputs = None

    def input_spec(self):
        return self._shape, self._dtype, None

    def feed(self, batch):
        self._feed = {self._name: batch}

    def infer(self):
        self._outputs = self._session.run(None, self._feed)

    def output(self):
        return np.asarray(self._outputs[0], dtype=np.float32)


RUNTIMES: dict[str, type[Runtime]] = {"tflite": LiteRT, "onnx": OnnxRuntime}


def load_runtime(runtime: str, wanted: str | None = None) -> Runtime:
    """The runtime of a format's runtime family; `wanted` names the module the profile asks for."""
    if runtime not in RUNTIMES:
        raise RuntimeUnavailable(f"the agent has no runtime for runtime family {runtime!r}")
    return RUNTIMES[runtime](wanted)


def _version(module_name: str) -> str:
    try:
        from importlib.metadata import version

        return version(module_name.replace("_", "-"))
    except Exception:
        return getattr(importlib.import_module(module_name), "__version__", "unknown")
