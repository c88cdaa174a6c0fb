"""Write the file that stands for one plan's selection of runs (edgebench.outcome)."""

from edgebench.fileio import write_json
from edgebench.logs import redirected_to

with redirected_to(snakemake.log[0]):  # noqa: F821
    rows = [list(row) for row in snakemake.params.rows]  # noqa: F821
    write_json(snakemake.output[0], {"runs": rows})  # noqa: F821
    print(f"plan of {len(rows)} rows -> {snakemake.output[0]}")  # noqa: F821
