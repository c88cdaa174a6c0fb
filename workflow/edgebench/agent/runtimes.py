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

    def details(self) -> dict:
        """What the run header records beside name and version: the accelerator, plugin or
        providers really used (after prepare)."""
        return {}


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


CPU_PROVIDER = "CPUExecutionProvider"


class OnnxRuntime(Runtime):
    """ONNX Runtime with the profile's execution providers in order (`onnx_providers`); the
    providers the session really got are recorded: a missing one falls back to the CPU
    without an error, and that fallback must not pass for an accelerator figure."""

    runtime = "onnx"
    DTYPES = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}

    def __init__(self, wanted: str | None = None, providers: list[str] | None = None):
        _, self._ort = _import_first([("onnxruntime", "InferenceSession")], wanted)
        import onnxruntime

        self._module = onnxruntime
        self.name, self.version = "onnxruntime", onnxruntime.__version__
        self.requested = list(providers or [CPU_PROVIDER])
        self.available = onnxruntime.get_available_providers()

    def prepare(self, model_path, batch, threads):
        options = self._module.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        wanted = [p for p in self.requested if p in self.available] or [CPU_PROVIDER]
        self._session = self._ort(model_path, options, providers=wanted)
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

    def details(self):
        used = self._session.get_providers() if hasattr(self, "_session") else []
        accelerators = [p for p in self.requested if p != CPU_PROVIDER]
        return {
            "providers_requested": self.requested,
            "providers_available": self.available,
            "providers": used,
            # asked for an accelerator, got none of them: a CPU figure, not an accelerator's
            "fell_back_to_cpu": bool(accelerators) and not set(accelerators) & set(used),
        }


class OpenVINO(Runtime):
    """OpenVINO on the profile's device (`openvino_device`: CPU, GPU, NPU), latency hint; the
    inference precision pinned to the format's (f32 for fp32: the CPU plugin would otherwise
    compute in bf16 where the CPU has it)."""

    runtime = "openvino"

    def __init__(self, wanted: str | None = None, device: str = "CPU", precision: str = "fp32"):
        _, self._core_class = _import_first([("openvino", "Core")], wanted)
        import openvino

        self._ov = openvino
        self.name, self.version = "openvino", openvino.get_version()
        self.device = device
        self.precision = precision

    def config(self, threads: int) -> dict:
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
        if self.device == "CPU":
            config["INFERENCE_NUM_THREADS"] = threads
        if self.precision == "fp16":
            config["INFERENCE_PRECISION_HINT"] = "f16"
        return config

    def prepare(self, model_path, batch, threads):
        core = self._core_class()
        if self.device not in core.available_devices:
            raise RuntimeUnavailable(
                f"OpenVINO device {self.device} is not present here (available: "
                f"{', '.join(core.available_devices)})"
            )
        model = core.read_model(model_path)
        shape = model.input(0).get_partial_shape()
        shape[0] = batch
        model.reshape({model.input(0): shape})
        self._compiled = core.compile_model(model, self.device, self.config(threads))
        self._request = self._compiled.create_infer_request()
        port = self._compiled.input(0)
        self._shape = tuple(port.get_shape())
        self._dtype = np.dtype(port.get_element_type().to_dtype())
        self._properties = {
            key: _text(self._compiled.get_property(key))
            for key in ("INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "INFERENCE_NUM_THREADS")
            if key in self._compiled.get_property("SUPPORTED_PROPERTIES")
        }

    def input_spec(self):
        return self._shape, self._dtype, None

    def feed(self, batch):
        self._request.set_input_tensor(self._ov.Tensor(np.ascontiguousarray(batch)))

    def infer(self):
        self._request.infer()

    def output(self):
        # a copy: the tensor's memory is the request's, overwritten by the next inference
        return np.array(self._request.get_output_tensor(0).data, dtype=np.float32, copy=True)

    def details(self):
        return {"device": self.device, "properties": getattr(self, "_properties", {})}


RUNTIMES: dict[str, type[Runtime]] = {"tflite": LiteRT, "onnx": OnnxRuntime, "openvino": OpenVINO}
# The top-level modules each family can run with (any one of them), for the board probe.
RUNTIME_MODULES = {
    "tflite": ["ai_edge_litert", "tflite_runtime"],
    "onnx": ["onnxruntime"],
    "openvino": ["openvino"],
    "tensorrt": ["tensorrt"],
    "edgetpu": ["pycoral", "tflite_runtime", "ai_edge_litert"],
}
# Runtimes in modules of their own, imported only when a run needs them.
LAZY_RUNTIMES = {
    "tensorrt": ("runtime_tensorrt", "TensorRT"),
    "edgetpu": ("runtime_edgetpu", "EdgeTPU"),
}
# job keys each runtime takes as constructor arguments (from the device profile)
RUNTIME_OPTIONS = {
    "onnx": {"onnx_providers": "providers"},
    "openvino": {"openvino_device": "device", "precision": "precision"},
    "tensorrt": {
        "dla_core": "dla_core",
        "end_to_end": "end_to_end",
        "tensorrt_workspace_mb": "workspace_mb",
        "precision": "precision",
    },
    "edgetpu": {"edgetpu_device": "device"},
}


def load_runtime(runtime: str, wanted: str | None = None, options: dict | None = None) -> Runtime:
    """The runtime of a format's runtime family; `wanted` names the module the profile asks for,
    `options` the job's settings of that runtime (RUNTIME_OPTIONS)."""
    if runtime in LAZY_RUNTIMES:
        module_name, class_name = LAZY_RUNTIMES[runtime]
        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ImportError as error:
            raise RuntimeUnavailable(
                f"the agent cannot load its {runtime} runtime: {error}"
            ) from None
        runtime_class = getattr(module, class_name)
    elif runtime in RUNTIMES:
        runtime_class = RUNTIMES[runtime]
    else:
        raise RuntimeUnavailable(f"the agent has no runtime for runtime family {runtime!r}")
    keywords = {
        argument: options[key]
        for key, argument in RUNTIME_OPTIONS.get(runtime, {}).items()
        if options and options.get(key) is not None
    }
    return runtime_class(wanted, **keywords)


def _version(module_name: str) -> str:
    try:
        from importlib.metadata import version

        return version(module_name.replace("_", "-"))
    except Exception:
        return getattr(importlib.import_module(module_name), "__version__", "unknown")


def _text(value) -> str:
    """A property value as OpenVINO writes it (f32, LATENCY), not its Python repr."""
    to_string = getattr(value, "to_string", None)
    return to_string() if callable(to_string) else str(value)
