"""Build the static HTML report from the table, the device digests and the run's context."""

from pathlib import Path

from edgebench.logs import redirected_to
from edgebench.report.build import load_report

with redirected_to(snakemake.log[0]):  # noqa: F821
    inputs = snakemake.input  # noqa: F821
    report = load_report(
        table=inputs.table,
        digests=list(inputs.digests),
        conversions=[*inputs.conversions, *snakemake.params.measured_conversions],  # noqa: F821
        images=list(inputs.images),
        context=snakemake.params.context,  # noqa: F821
    )
    path = report.write(snakemake.output[0])  # noqa: F821
    print(f"report of {len(report.table)} rows -> {Path(path).resolve()}")
