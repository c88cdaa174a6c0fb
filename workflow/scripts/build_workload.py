"""Build one workload (model or block) and write model.keras + meta.json; a builder that fails
leaves its own error in failure.json (the tables' reason for the workload's rows)."""

import sys
from pathlib import Path

from edgebench import paths
from edgebench.fileio import read_json, write_json
from edgebench.warm import run_job, wanted

name = snakemake.params.spec["name"]  # noqa: F821
failure = paths.build_failure(name)
Path(failure).unlink(missing_ok=True)  # an earlier build's reason must not outlive it
code = run_job(
    "edgebench.workloads.build:build_job",
    {
        "spec": snakemake.params.spec,  # noqa: F821
        "model_path": snakemake.output.model,  # noqa: F821
        "meta_path": snakemake.output.meta,  # noqa: F821
        "dataset": snakemake.input.get("dataset"),  # noqa: F821
        "failure": failure,
    },
    snakemake.log[0],  # noqa: F821
    warm=wanted(snakemake.config),  # noqa: F821
)
if code != 0:
    if Path(failure).is_file():
        reason = read_json(failure)["reason"]
    else:  # the process itself died (a crash in native code, a signal)
        reason = f"the build exited with code {code}; see {snakemake.log[0]}"  # noqa: F821
        write_json(failure, {"workload": name, "status": "failed", "reason": reason})
    print(f"edgebench: building {name} failed: {reason}", file=sys.stderr)
    sys.exit(1)
