"""Keras float32 outputs on the accuracy inputs, for accuracy drop and agreement."""

import sys

from edgebench.warm import run_job, wanted

code = run_job(
    "edgebench.workloads.reference:reference_job",
    {
        "model_path": snakemake.input.model,  # noqa: F821
        "dataset": snakemake.input.dataset,  # noqa: F821
        "out_path": snakemake.output[0],  # noqa: F821
    },
    snakemake.log[0],  # noqa: F821
    warm=wanted(snakemake.config),  # noqa: F821
)
sys.exit(code)
