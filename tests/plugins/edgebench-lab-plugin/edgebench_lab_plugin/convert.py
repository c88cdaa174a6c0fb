"""A format of the lab's own: the ONNX model after ONNX Runtime's offline graph optimisations
(constant folding, node fusions), saved once so that a board loads it without optimising.
Only edgebench's FileConverter interface is used."""

from __future__ import annotations

from pathlib import Path

from edgebench.convert.interface import FileConverter
from edgebench.formats import Format


class OrtOptimised(FileConverter):
    name = "ort-optimised"
    formats = (Format("onnx-ortopt", "onnx", "fp32", ".onnx", "tensorflow", "onnx-fp32"),)

    @staticmethod
    def missing_tool(fmt):
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return "onnx-ortopt needs onnxruntime where the conversion runs"
        return None

    @staticmethod
    def convert_file(source: Path, out: Path, fmt, calibration):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(out)
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        return {"tool_versions": {"onnxruntime": onnxruntime.__version__}}
