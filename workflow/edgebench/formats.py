"""Every format edgebench knows: its file suffix, toolchain image and the runtime that runs it.

Shared vocabulary of every stage (settings, images, conversion, devices), so it sits at the
package's top level rather than inside one stage."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    name: str
    runtime: str  # the agent runtime family that runs it: tflite, onnx, tensorrt, edgetpu, openvino
    precision: str  # fp32 | fp16 | dynamic | int8
    suffix: str
    image: str  # containers/<image>/Dockerfile holds its toolchain
    converter: str | None  # "module:function" in edgebench.convert, None where not built yet
    source: str | None = None  # the format it is made from (its file), None: from the .keras


# Converters of formats made from another format's file (ONNX, int8 TFLite), not the .keras.
TRT, EDGETPU, OPENVINO = "tensorrt:convert_file", "edgetpu:convert_file", "openvino:convert_file"

FORMATS: dict[str, Format] = {
    f.name: f
    for f in [
        Format("tflite-fp32", "tflite", "fp32", ".tflite", "tensorflow", "tflite:convert"),
        Format("tflite-fp16", "tflite", "fp16", ".tflite", "tensorflow", "tflite:convert"),
        Format("tflite-dynamic", "tflite", "dynamic", ".tflite", "tensorflow", "tflite:convert"),
        Format("tflite-int8", "tflite", "int8", ".tflite", "tensorflow", "tflite:convert"),
        Format("onnx-fp32", "onnx", "fp32", ".onnx", "tensorflow", "onnx:convert"),
        Format("tensorrt-fp32", "tensorrt", "fp32", ".engine", "tensorrt", TRT, "onnx-fp32"),
        Format("tensorrt-fp16", "tensorrt", "fp16", ".engine", "tensorrt", TRT, "onnx-fp32"),
        Format("tensorrt-int8", "tensorrt", "int8", ".engine", "tensorrt", TRT, "onnx-fp32"),
        Format("edgetpu-int8", "edgetpu", "int8", ".tflite", "edgetpu", EDGETPU, "tflite-int8"),
        Format("openvino-fp32", "openvino", "fp32", ".xml", "openvino", OPENVINO, "onnx-fp32"),
        Format("openvino-int8", "openvino", "int8", ".xml", "openvino", OPENVINO, "onnx-fp32"),
    ]
}
