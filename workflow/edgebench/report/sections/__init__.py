"""The report's sections, one module each; SECTIONS lists them in page order.

Each module's ``section(report, charts)`` builds its part of the page from the Report (the result
table, the device digests and the run's context) and returns a ``page.Section``; the section's
id is its anchor in the page's menu; a section with nothing to show for this run (a comparison
without a baseline) returns None. A new section is one module here and one line below.
"""

from __future__ import annotations

from edgebench.report.sections import (
    accuracy,
    batch,
    blocks,
    comparison,
    devices,
    latency,
    models,
    overview,
    power,
    provenance,
)

SECTIONS = [
    overview.section,
    comparison.section,
    models.section,
    accuracy.section,
    batch.section,
    devices.section,
    blocks.section,
    latency.section,
    power.section,
    provenance.section,
]
