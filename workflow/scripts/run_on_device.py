"""Run one converted workload on one device; the raw log comes back as run.jsonl."""

import sys
from pathlib import Path

from edgebench.devices.dispatch import DeviceFailed, job_settings, run_on_device
from edgebench.fileio import read_workload_meta
from edgebench.logs import redirected_to
from edgebench.settings.plan import load_device

failure = None
with redirected_to(snakemake.log[0]) as log:  # noqa: F821
    # the whole profile, read now: params hold only the keys that change a measurement
    profile = load_device(snakemake.wildcards.device, Path("."))  # noqa: F821
    meta = read_workload_meta(snakemake.input.meta)  # noqa: F821
    fmt = snakemake.wildcards.format  # noqa: F821
    job = job_settings(profile, snakemake.params.suite, meta, fmt)  # noqa: F821
    dataset = snakemake.input.get("dataset")  # noqa: F821
    try:
        status = run_on_device(
            profile,
            job,
            conversion=Path(snakemake.input.conversion),  # noqa: F821
            raw_log=Path(snakemake.output[0]),  # noqa: F821
            log=log,
            dataset=Path(dataset) if dataset else None,
        )
        print(f"{job['device']} {job['workload']} {job['format']}: {status}")
    except DeviceFailed as error:  # the device, not this code: said without a traceback
        failure = error
        print(f"edgebench: {error}")
if failure is not None:
    print(f"edgebench: {failure}", file=sys.stderr)
    sys.exit(1)
