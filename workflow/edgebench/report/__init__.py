"""The static HTML report and the Plotly figures it is drawn with.

Figures (dlmark's, for notebooks too, in ``edgebench.report.figures``):
batch_size_vs_throughput_grid, max_batch_size, throughput_vs_device, throughput_vs_accuracy.
The report's own charts (``edgebench.report.plots``): block_latency_heatmap, latency_boxes.
Data: load_results, device_digest. The page: Report, load_report; its sections, one module each,
are listed in page order in ``edgebench.report.sections``.
"""

from edgebench.report.build import Report, load_report
from edgebench.report.data import device_digest, load_results
from edgebench.report.figures import (
    batch_size_vs_throughput_grid,
    max_batch_size,
    throughput_vs_accuracy,
    throughput_vs_device,
)
from edgebench.report.plots import block_latency_heatmap, latency_boxes

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
