"""The converter interface. A format names its converter module in `edgebench.formats.FORMATS`
(`Format.converter`, "module:function" within edgebench.convert): that table is the registry.
Adding a converter is a module here that satisfies one of these protocols, plus its formats'
entries in FORMATS.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from edgebench.formats import Format


class ModelConverter(Protocol):
    """Converts the Keras model itself (TFLite, ONNX)."""

    def convert(self, model, fmt: Format, calibration: np.ndarray | None) -> bytes:
        """The converted model's bytes; `calibration` inputs for int8 formats."""

    def op_counts(self, path: Path) -> dict[str, int]:
        """Operator name -> count in the converted file."""


class FileConverter(Protocol):
    """Converts another format's file with a vendor tool (OpenVINO, TensorRT, Edge TPU)."""

    CALIBRATES: bool  # True when it quantizes itself (else its source's calibration applies)

    def missing_tool(self, fmt: Format) -> str | None:
        """Why the tool cannot run here (the image that has it), or None."""

    def convert_file(
        self, source: Path, out: Path, fmt: Format, calibration: Callable[[], np.ndarray] | None
    ) -> dict:
        """Write `out` (and companions) from `source`; return facts for the record
        (`tool_versions`, `extra_files`, `op_mapping` ...)."""


def load_converter(fmt: Format) -> tuple[ModelConverter | FileConverter, Callable]:
    """The format's converter module and its conversion function."""
    module_name, _, function = fmt.converter.partition(":")
    module = importlib.import_module(f"edgebench.convert.{module_name}")
    return module, getattr(module, function)
