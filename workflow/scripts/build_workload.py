"""Build one workload (model or block) and write model.keras + meta.json; a builder that fails
leaves its own error in failure.json (the tables' reason for the workload's rows)."""

import sys
import traceback
from pathlib import Path

from edgebench import paths
from edgebench.fileio import write_json
from edgebench.logs import redirected_to
from edgebench.settings import WorkloadSpec
from edgebench.workloads.build import build_workload

spec = WorkloadSpec(**snakemake.params.spec)  # noqa: F821
failure = Path(paths.build_failure(spec.name))
error = None
with redirected_to(snakemake.log[0]):  # noqa: F821
    try:
        info = build_workload(
            spec,
            snakemake.output.model,  # noqa: F821
            snakemake.output.meta,  # noqa: F821
            dataset=snakemake.input.get("dataset"),  # noqa: F821
        )
        print(f"{spec.name}: {info['params']} params, {info['macs']} MACs")
    except Exception as caught:  # the builder's own error becomes the rows' reason
        traceback.print_exc()
        error = f"{type(caught).__name__}: {caught}"
if error is not None:
    write_json(failure, {"workload": spec.name, "status": "failed", "reason": error[:1000]})
    print(f"edgebench: building {spec.name} failed: {error}", file=sys.stderr)
    sys.exit(1)
failure.unlink(missing_ok=True)
