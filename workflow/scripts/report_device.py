"""Condense one device's raw logs into the digest the report is drawn from."""

from edgebench.fileio import write_device_digest
from edgebench.logs import redirected_to
from edgebench.report.data import device_digest

with redirected_to(snakemake.log[0]):  # noqa: F821
    device = snakemake.wildcards.device  # noqa: F821
    runs = [*snakemake.input.runs, *snakemake.params.measured]  # noqa: F821
    digest = device_digest(device, snakemake.params.profile, runs)  # noqa: F821
    write_device_digest(snakemake.output[0], digest)  # noqa: F821
    print(f"{device}: {len(runs)} runs -> {snakemake.output[0]}")  # noqa: F821
