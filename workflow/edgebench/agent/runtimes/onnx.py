"""ONNX Runtime with the profile's execution providers in order (`onnx_providers`)."""

from __future__ import annotations

import numpy as np

from . import Runtime, default, import_first

CPU_PROVIDER = "CPUExecutionProvider"


class OnnxRuntime(Runtime):
    """ONNX Runtime with the profile's execution providers in order (`onnx_providers`); the
    providers the session really got are recorded: a missing one falls back to the CPU
    without an error, and that fallback must not pass for an accelerator figure."""

    name = "onnx"
    modules = {"onnxruntime": "onnxruntime"}
    suffixes = (".onnx",)
    options = {
        "onnx_providers": {
            "description": (
                "ONNX Runtime execution providers in order of preference (default "
                "[CPUExecutionProvider]); the header records those the session got, and a run "
                "that asked for an accelerator but fell back to the CPU is flagged."
            ),
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "string",
                "enum": [
                    "TensorrtExecutionProvider",
                    "CUDAExecutionProvider",
                    "OpenVINOExecutionProvider",
                    "CoreMLExecutionProvider",
                    "DmlExecutionProvider",
                    "QNNExecutionProvider",
                    "ROCMExecutionProvider",
                    CPU_PROVIDER,
                ],
            },  # fmt: skip
            "default": [CPU_PROVIDER],
        }
    }
    summary = (
        "ONNX Runtime with `onnx_providers` in order (`TensorrtExecutionProvider`, "
        "`CUDAExecutionProvider`, `OpenVINOExecutionProvider`, ...)"
    )
    records = (
        "providers requested, available and **used** (`get_providers()`); a run that asked for "
        'an accelerator and got only the CPU is `accelerator_fallback` (the report says "CPU '
        'fallback"), never an accelerator figure'
    )
    DTYPES = {"tensor(float)": np.float32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}

    def __init__(self, wanted: str | None = None, onnx_providers: list[str] | None = None):
        self.module, onnxruntime = import_first(type(self), wanted)
        self._module = onnxruntime
        self._ort = onnxruntime.InferenceSession
        self.version = onnxruntime.__version__
        providers = (
            onnx_providers if onnx_providers is not None else default(self, "onnx_providers")
        )
        self.requested = list(providers)
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
