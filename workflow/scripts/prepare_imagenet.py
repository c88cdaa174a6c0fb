"""Preprocess an ImageNet-style validation folder the way one model expects."""

from edgebench.logs import redirected_to
from edgebench.workloads.datasets import write_accuracy_set

with redirected_to(snakemake.log[0]):  # noqa: F821
    count = write_accuracy_set(snakemake.params.settings, snakemake.output[0])  # noqa: F821
    print(f"{count} images -> {snakemake.output[0]}")  # noqa: F821
