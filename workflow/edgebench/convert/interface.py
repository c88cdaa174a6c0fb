"""The converter extension point: a converter makes one or more formats.

A converter is one class, a subclass of `ModelConverter` (it converts the Keras model itself:
TFLite, ONNX) or `FileConverter` (it converts another format's file with a vendor tool:
OpenVINO, TensorRT, Edge TPU), in any module of this package or in a plugin distribution under
the entry-point group `edgebench.formats`. It declares its `name` and the `formats` it makes
(`edgebench.formats.Format`: suffix, toolchain image, runtime family, the format it is made
from); `edgebench.formats.FORMATS`, the vocabulary every stage uses, is derived from them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from edgebench.agent.registry import Registry
from edgebench.formats import Format
from edgebench.plugins import GROUPS


class Converter:
    name: str
    formats: tuple[Format, ...]
    rank: int = 100  # where its formats come in listings (suites, tables), lowest first
    tools: tuple[str, ...] = ("numpy",)  # distributions whose versions its records keep
    # measured peak memory of one conversion: a base plus this much per MB of the Keras model
    # (what a SLURM job asks for, edgebench.cluster.job_mem_mb)
    mem_mb_base: int = 950
    mem_mb_per_model_mb: int = 28

    @staticmethod
    def flags(record: dict) -> list[str]:
        """What its tool said that makes a figure not the accelerator's alone (the table's
        `conversion_flags`), read from one of its conversion records; none by default."""
        return []


class ModelConverter(Converter):
    """Converts the Keras model itself (TFLite, ONNX)."""

    @staticmethod
    def convert(model, fmt: Format, calibration: np.ndarray | None) -> bytes:
        """The converted model's bytes; `calibration` inputs for int8 formats."""
        raise NotImplementedError

    @staticmethod
    def op_counts(path: Path) -> dict[str, int]:
        """Operator name -> count in the converted file."""
        raise NotImplementedError


class FileConverter(Converter):
    """Converts another format's file with a vendor tool (OpenVINO, TensorRT, Edge TPU)."""

    calibrates: bool = False  # True when it quantizes itself (else its source's calibration)

    @staticmethod
    def missing_tool(fmt: Format) -> str | None:
        """Why the tool cannot run here (the image that has it), or None."""
        raise NotImplementedError

    @staticmethod
    def convert_file(
        source: Path, out: Path, fmt: Format, calibration: Callable[[], np.ndarray] | None
    ) -> dict:
        """Write `out` (and companions) from `source`; return facts for the record
        (`tool_versions`, `extra_files`, `op_mapping` ...)."""
        raise NotImplementedError


CONVERTERS = Registry("converter", "edgebench.convert", Converter, GROUPS["formats"])


def converter_of(fmt: Format) -> type[Converter]:
    """The converter that makes `fmt`."""
    for converter in CONVERTERS.entries().values():
        if fmt in converter.formats:
            return converter
    raise KeyError(f"no converter makes {fmt.name}")


def load_converter(fmt: Format) -> tuple[type[Converter], Callable]:
    """The format's converter and its conversion function."""
    converter = converter_of(fmt)
    is_file = issubclass(converter, FileConverter)
    return converter, converter.convert_file if is_file else converter.convert


def fill_suite_schema(schema: dict) -> None:
    """A suite's formats: those the converters make."""
    from edgebench.formats import FORMATS

    schema["properties"]["formats"]["items"]["enum"] = list(FORMATS)
