"""Running on a cluster: the memory a SLURM job asks for, and a job that SLURM killed for its
memory, said plainly.

The SLURM executor plugin reports such a job as `FAILED` (memory enforced by sampling,
JobAcctGatherParams=OverMemoryKill) or `OUT_OF_MEMORY` (cgroups), and with `squeue` as its
status command adds "Detailed failure reason unavailable". The reason is in the job's SLURM
log, whose path the plugin writes to Snakemake's log when it submits the job. This module
reads those logs after a failed run and names the rule, its wildcards, the memory used and
asked for, and the resource to raise.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: (.+?)\)\.?$", re.MULTILINE)
# jobacct_gather sampling:
# "StepId=12.0 exceeded memory limit (370462720 > 209715200), being killed"
OVER_LIMIT = re.compile(r"exceeded memory limit \((\d+) > (\d+)\), being killed")
# cgroups:
# "Detected 1 oom_kill event in StepId=12.batch. Some of the step tasks have been OOM Killed."
OOM_KILL = re.compile(r"oom[-_]kill event|OOM Killed", re.IGNORECASE)
WILDCARDS = re.compile(r"^\s*wildcards: (.+)$", re.MULTILINE)
MB = 2**20
# The plugin's own Snakemake in the job's batch step: it counts against the job's memory too.
JOBSTEP_MB = 250
HEADROOM = 1.25


def job_mem_mb(peak_mb: float, per_mb: float = 0, scaled_by: str | None = None) -> int:
    """mem_mb for a SLURM job whose processes (Snakemake, the rule's script, a converter)
    peaked at `peak_mb`, plus `per_mb` per MB of the file `scaled_by` (a model, a dataset), in
    the measurements (README, Scale-out on a SLURM cluster); with the jobstep's Snakemake and
    25% headroom, rounded up to 100 MB."""
    size_mb = os.path.getsize(scaled_by) / MB if scaled_by else 0
    needed = HEADROOM * (JOBSTEP_MB + peak_mb + per_mb * size_mb)
    return 100 * math.ceil(needed / 100)


def conversion_mem_mb(format_name: str, model: str) -> int:
    """mem_mb for converting `model` (a .keras file) to a format, from what its converter
    declares it peaked at."""
    from edgebench.convert.interface import converter_of
    from edgebench.formats import FORMATS

    converter = converter_of(FORMATS[format_name])
    return job_mem_mb(converter.mem_mb_base, converter.mem_mb_per_model_mb, model)


@dataclass(frozen=True)
class MemoryKill:
    job_id: str
    rule: str
    wildcards: str
    used_mb: int | None  # sampled: the job needed at least this much
    limit_mb: int | None

    def explanation(self) -> str:
        what = f"rule {self.rule}" + (f" ({self.wildcards})" if self.wildcards else "")
        figures = (
            f": {self.used_mb} MB used, over the {self.limit_mb} MB it asked for"
            if self.used_mb is not None
            else ""
        )
        suggestion = 2 * self.limit_mb if self.limit_mb else None
        example = f"{self.rule}:mem_mb={suggestion}" if suggestion else f"{self.rule}:mem_mb=N"
        return (
            f"edgebench: SLURM job {self.job_id} of {what} was KILLED for exceeding its memory"
            f"{figures}. Raise the rule's mem_mb resource: --set-resources {example} "
            "(or under set-resources in your profile)."
        )


def submitted_logs(snakemake_log: Path) -> dict[str, Path]:
    """SLURM job id -> its log file, as the plugin recorded them in Snakemake's log."""
    try:
        text = snakemake_log.read_text(errors="replace")
    except OSError:
        return {}
    return {job_id: Path(path) for job_id, path in SUBMITTED.findall(text)}


def memory_kill(job_id: str, slurm_log: Path) -> MemoryKill | None:
    """The memory kill this job's SLURM log records, or None."""
    try:
        text = slurm_log.read_text(errors="replace")
    except OSError:  # the plugin deletes the logs of jobs that succeeded
        return None
    over = OVER_LIMIT.search(text)
    if over is None and not OOM_KILL.search(text):
        return None
    rule = slurm_log.parent.parent.name.removeprefix("rule_").removeprefix("group_")
    wildcards = WILDCARDS.search(text)
    used, limit = (int(over[1]) // MB, int(over[2]) // MB) if over else (None, None)
    return MemoryKill(job_id, rule, wildcards[1].strip() if wildcards else "", used, limit)


def memory_kills(snakemake_log: Path) -> list[MemoryKill]:
    logs = submitted_logs(snakemake_log)
    kills = (memory_kill(job_id, path) for job_id, path in logs.items())
    return [kill for kill in kills if kill is not None]


def explain_memory_kills(snakemake_logs: list[str]) -> None:
    """After a failed run (Snakemake's `onerror` gives its log files): one line per job that
    SLURM killed for its memory."""
    for snakemake_log in snakemake_logs:
        for kill in memory_kills(Path(snakemake_log)):
            print(kill.explanation())
