# edgebench: workloads -> convert (in toolchain images) -> run -> aggregate -> report.
# Usage: snakemake --cores 4 [--config devices=jetson,coral suite=full]
from snakemake.utils import min_version

import os
import sys
from pathlib import Path

# This checkout's package, not the one the environment was installed from (one environment may
# serve several checkouts): first on the path here and, through PYTHONPATH, in every process the
# workflow starts (scripts, conversions, the local agent, a job's own Snakemake).
_package = Path(workflow.basedir, "workflow").resolve()
sys.path[:] = [str(_package), *(p for p in sys.path if p != str(_package))]
_paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        [str(_package), *(p for p in _paths if p and p != str(_package))]
    )
)
import edgebench

if Path(edgebench.__file__).resolve().parent != _package / "edgebench":
    sys.exit(  # imported before the workflow started, or found by an import hook first
        f"edgebench: this workflow ({workflow.basedir}) must run its own package, "
        f"{_package / 'edgebench'}, but this Python already runs the one in "
        f"{Path(edgebench.__file__).parent} (environment {sys.prefix}): run the workflow with "
        "the snakemake of an environment set up in this checkout (make setup)"
    )

from edgebench.cluster import explain_memory_kills
from edgebench.workflow_lock import stale_lock_note

min_version("9.0")

# the main invocation only: a job's own Snakemake (--target-jobs, on a SLURM node too) runs
# under the lock of a main process it may not see
_main = not {"--unlock", "--target-jobs"} & set(sys.argv)
if _main and (note := stale_lock_note()):
    print(note, file=sys.stderr)  # Snakemake's own "cannot be locked" error follows


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/workloads.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/convert.smk"
include: "workflow/rules/run.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
    localrule: True


onsuccess:
    print_report_location()


onerror:
    keep_what_completed()
    explain_memory_kills(log)
