"""An MLPerf Tiny test set from the user's files, as the accuracy pass reads it."""

from edgebench.logs import redirected_to
from edgebench.workloads.tiny import write_accuracy_set

with redirected_to(snakemake.log[0]):  # noqa: F821
    count = write_accuracy_set(
        snakemake.params.task,  # noqa: F821
        snakemake.input[0],  # noqa: F821
        snakemake.params.input_shape,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    )
    print(f"{count} samples -> {snakemake.output[0]}")  # noqa: F821
