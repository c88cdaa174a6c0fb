# edgebench: workloads -> convert (in toolchain images) -> run -> aggregate -> report.
# Usage: snakemake --cores 4 [--config devices=jetson,coral suite=full]
from snakemake.utils import min_version

import sys

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
