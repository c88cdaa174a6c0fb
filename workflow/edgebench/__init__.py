"""edgebench: one reproducible benchmark workflow for edge deep-learning accelerators.

The Python API (imported on first use, so that the workflow's own scripts stay light):

    from edgebench import LayerBasedBenchmark, CellBasedBenchmark, ModelBenchmark, Device
    from edgebench import load_results
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Device": "edgebench.api",
    "LayerBasedBenchmark": "edgebench.api",
    "CellBasedBenchmark": "edgebench.api",
    "ModelBenchmark": "edgebench.api",
    "BenchmarkResult": "edgebench.api",
    "WorkflowFailed": "edgebench.api",
    "load_results": "edgebench.report.data",
    "batch_size_vs_throughput_grid": "edgebench.report.figures",
    "max_batch_size": "edgebench.report.figures",
    "throughput_vs_device": "edgebench.report.figures",
    "throughput_vs_accuracy": "edgebench.report.figures",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edgebench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
