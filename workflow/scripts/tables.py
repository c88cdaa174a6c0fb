"""Aggregate raw logs, conversion records and workload facts into the result tables."""

from pathlib import Path

from edgebench.logs import redirected_to
from edgebench.metrics.tables import write_tables
from edgebench.outcome import build_results_table

with redirected_to(snakemake.log[0]):  # noqa: F821
    inputs = {k: list(getattr(snakemake.input, k)) for k in ("runs", "conversions", "metas")}  # noqa: F821
    table = build_results_table(inputs, snakemake.params.settings)  # noqa: F821
    write_tables(table, Path(snakemake.output.csv).parent)  # noqa: F821
    print(f"{len(table)} rows -> {snakemake.output.csv}")  # noqa: F821
