"""Aggregate raw logs, conversion records and workload facts into the result tables."""

from pathlib import Path

from edgebench.logs import redirected_to
from edgebench.metrics.tables import build_table, write_tables

with redirected_to(snakemake.log[0]):  # noqa: F821
    inputs = snakemake.input  # noqa: F821
    accuracy = snakemake.params.workloads_with_accuracy  # noqa: F821
    table = build_table(
        runs=[Path(p) for p in inputs.runs],
        conversions=[Path(p) for p in inputs.conversions],
        metas=[Path(p) for p in inputs.metas],
        devices=snakemake.params.devices,  # noqa: F821
        plan_rows=[tuple(row) for row in snakemake.params.plan_rows],  # noqa: F821
        references={w: Path(f"results/reference/{w}.npz") for w in accuracy},
        datasets={w: Path(path) for w, path in accuracy.items()},
    )
    write_tables(table, Path(snakemake.output.csv).parent)  # noqa: F821
    print(f"{len(table)} rows -> {snakemake.output.csv}")  # noqa: F821
