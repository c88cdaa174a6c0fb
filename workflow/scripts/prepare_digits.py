"""Split scikit-learn's bundled digits into training and held-out parts."""

from edgebench.logs import redirected_to
from edgebench.workloads import digits

with redirected_to(snakemake.log[0]):  # noqa: F821
    counts = digits.prepare(
        snakemake.output[0],  # noqa: F821
        seed=snakemake.params.seed,  # noqa: F821
        test_fraction=snakemake.params.test_fraction,  # noqa: F821
    )
    print(f"digits split: {counts}")
