"""The static HTML report and the Plotly figures it is drawn with.

Figures (dlmark's, for notebooks too): batch_size_vs_throughput_grid, max_batch_size,
throughput_vs_device, throughput_vs_accuracy. Data: load_results, device_digest. The page:
Report, load_report.
"""

from edgebench.report.build import Report, load_report
from edgebench.report.data import device_digest, load_results
from edgebench.report.plots import (
    batch_size_vs_throughput_grid,
    block_latency_heatmap,
    latency_boxes,
    max_batch_size,
    throughput_vs_accuracy,
    throughput_vs_device,
)

__all__ = [
    "Report",
    "batch_size_vs_throughput_grid",
    "block_latency_heatmap",
    "device_digest",
    "latency_boxes",
    "load_report",
    "load_results",
    "max_batch_size",
    "throughput_vs_accuracy",
    "throughput_vs_device",
]
