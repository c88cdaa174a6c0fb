"""Keras float32 outputs on the accuracy inputs, for accuracy drop and agreement."""

from edgebench.logs import redirected_to
from edgebench.workloads.reference import write_reference

with redirected_to(snakemake.log[0]):  # noqa: F821
    facts = write_reference(
        snakemake.input.model,  # noqa: F821
        snakemake.input.dataset,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    )
    print(f"reference: {facts}")
