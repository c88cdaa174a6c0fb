"""OpenVINO on the profile's device (`openvino_device`: CPU, GPU, NPU)."""

from __future__ import annotations

import numpy as np

from . import Runtime, RuntimeUnavailable, default, import_first


class OpenVINO(Runtime):
    """OpenVINO on the profile's device (`openvino_device`: CPU, GPU, NPU), latency hint; the
    inference precision pinned to the format's (f32 for fp32: the CPU plugin would otherwise
    compute in bf16 where the CPU has it)."""

    name = "openvino"
    modules = {"openvino": "openvino"}
    suffixes = (".xml",)
    options = {
        "openvino_device": {
            "description": "OpenVINO device of openvino-* formats (default CPU).",
            "type": "string",
            "enum": ["CPU", "GPU", "NPU", "GPU.0", "GPU.1", "AUTO"],
            "default": "CPU",
        }
    }
    summary = (
        "`openvino.Core().compile_model` on `openvino_device` (CPU default; GPU, NPU, AUTO), "
        "`PERFORMANCE_HINT` LATENCY, `INFERENCE_PRECISION_HINT` f32 (the CPU plugin otherwise "
        "computes in bf16 where it can), `INFERENCE_NUM_THREADS` = threads; the input reshaped "
        "to the batch"
    )
    records = "device and the compiled model's properties"

    def __init__(
        self,
        wanted: str | None = None,
        openvino_device: str | None = None,
        precision: str = "fp32",
    ):
        self.module, self._ov = import_first(type(self), wanted)
        self._core_class = self._ov.Core
        self.version = self._ov.get_version()
        self.device = openvino_device or default(self, "openvino_device")
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


def _text(value) -> str:
    """A property value as OpenVINO writes it (f32, LATENCY), not its Python repr."""
    to_string = getattr(value, "to_string", None)
    return to_string() if callable(to_string) else str(value)
