"""The Python API: benchmarks that drive the workflow, and the result they return."""

from edgebench.api.benchmark import (
    Benchmark,
    BenchmarkResult,
    CellBasedBenchmark,
    Device,
    LayerBasedBenchmark,
    ModelBenchmark,
)
from edgebench.api.workflow import WorkflowFailed, find_project, run_workflow

__all__ = [
    "Benchmark",
    "BenchmarkResult",
    "CellBasedBenchmark",
    "Device",
    "LayerBasedBenchmark",
    "ModelBenchmark",
    "WorkflowFailed",
    "find_project",
    "run_workflow",
]
