"""Run every format of one workload on one device in rounds (schedule: interleaved); each
format's raw log comes back as its run.jsonl."""

import sys
from pathlib import Path

from edgebench.devices.dispatch import DeviceFailed, job_settings, run_interleaved_on_device
from edgebench.fileio import read_conversion_record, read_workload_meta
from edgebench.logs import redirected_to
from edgebench.settings.plan import load_device

failure = None
with redirected_to(snakemake.log[0]) as log:  # noqa: F821
    # the whole profile, read now: params hold only the keys that change a measurement
    profile = load_device(snakemake.wildcards.device, Path("."))  # noqa: F821
    meta = read_workload_meta(snakemake.input.meta)  # noqa: F821
    suite = snakemake.params.suite  # noqa: F821
    conversions, raw_logs, jobs = {}, {}, {}
    # the conversion records and the outputs, in the same order: the suite's formats
    for record, output in zip(snakemake.input.conversions, snakemake.output, strict=True):  # noqa: F821
        fmt = read_conversion_record(Path(record))["format"]
        conversions[fmt], raw_logs[fmt] = Path(record), Path(output)
        jobs[fmt] = job_settings(profile, suite, meta, fmt)
    dataset = snakemake.input.get("dataset")  # noqa: F821
    try:
        statuses = run_interleaved_on_device(
            profile,
            jobs,
            conversions,
            raw_logs,
            log,
            dataset=Path(dataset) if dataset else None,
            reference=suite.get("speedup_reference"),
        )
        for fmt, status in statuses.items():
            print(f"{profile['name']} {meta['workload']} {fmt}: {status}")
    except DeviceFailed as error:  # the device, not this code: said without a traceback
        failure = error
        print(f"edgebench: {error}")
if failure is not None:
    print(f"edgebench: {failure}", file=sys.stderr)
    sys.exit(1)
