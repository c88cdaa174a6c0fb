"""Build one workload (model or block) and write model.keras + meta.json."""

from edgebench.logs import redirected_to
from edgebench.settings import WorkloadSpec
from edgebench.workloads.build import build_workload

with redirected_to(snakemake.log[0]):  # noqa: F821
    spec = WorkloadSpec(**snakemake.params.spec)  # noqa: F821
    info = build_workload(
        spec,
        snakemake.output.model,  # noqa: F821
        snakemake.output.meta,  # noqa: F821
        dataset=snakemake.input.get("dataset"),  # noqa: F821
    )
    print(f"{spec.name}: {info['params']} params, {info['macs']} MACs")
