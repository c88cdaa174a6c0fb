"""What a SLURM job costs a conversion: wall time of the same conversions through the SLURM
executor (profiles/slurm) on a one-node cluster and through the local executor, side by side.

    sudo .venv/bin/python benchmarks/cluster_overhead.py [--suite standard] [--rounds 1]
        [--workloads a,b] [--formats x,y] [--first-check SECONDS]

Needs root and Debian's munge, slurmctld, slurmd and slurm-client: the cluster (this machine
as its one node) is started and stopped here by edgebench.testing.slurm. One scratch copy of
the project builds the suite's workloads first (not timed); then each round reconverts every
conversion of the suite (-R convert) once per side, the side that goes first alternating. The
local side runs `--cores N` (N = the node's CPUs); the cluster side asks one CPU per conversion,
so as many run at once on the node as locally. The per-job cost is the extra wall time times
those N slots, shared over the jobs: what each SLURM job adds (queueing, two Snakemake starts in
the job, the status checks that notice its end). Beside it: how long a conversion job ran on the
node (SLURM's start to end, median) against a local conversion (the local wall time times the
slots, shared over the jobs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml
from edgebench import paths
from edgebench.testing import slurm
from edgebench.testing.project import copy_project

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# profiles/slurm on a cluster without job accounting (job states from squeue)
CLUSTER_ARGS = ("--profile", "profiles/slurm", "--slurm-status-command", "squeue")


def suite_conversions(project: Path, args) -> tuple[list[str], list[str]]:
    suite = yaml.safe_load((project / "config" / "suites" / f"{args.suite}.yaml").read_text())
    workloads = args.workloads.split(",") if args.workloads else suite["workloads"]
    formats = args.formats.split(",") if args.formats else suite["formats"]
    return workloads, formats


def snakemake(project: Path, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [SNAKEMAKE, *args], cwd=project, capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"snakemake {args} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def side_arguments(cores: int, first_check: int | None) -> dict[str, tuple[str, ...]]:
    cluster = CLUSTER_ARGS
    if first_check is not None:
        cluster += ("--slurm-init-seconds-before-status-checks", str(first_check))
    return {"local": ("--cores", str(cores)), "slurm": cluster}


def measure(project: Path, env, targets: list[str], sides, rounds: int) -> dict[str, list]:
    seconds = {side: [] for side in sides}
    for round_index in range(rounds):
        order = list(sides) if round_index % 2 == 0 else list(reversed(sides))
        for side in order:
            elapsed = snakemake(project, env, *sides[side], "-R", "convert", *targets)
            seconds[side].append(elapsed)
            print(f"  round {round_index + 1}, {side}: {elapsed:.1f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="standard")
    parser.add_argument("--workloads", help="comma-separated: only these (default: the suite's)")
    parser.add_argument("--formats", help="comma-separated: only these (default: the suite's)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--first-check", type=int, help="seconds to the first status check (default: profile's)"
    )
    args = parser.parse_args()
    reason = slurm.missing()
    if reason:
        raise SystemExit(f"cannot start a SLURM cluster here: {reason}")
    with tempfile.TemporaryDirectory() as scratch:
        project = copy_project(Path(scratch) / "project")
        workloads, formats = suite_conversions(project, args)
        config = ["--config", f"suite={args.suite}"]
        targets = [paths.conversion_record(w, f) for w in workloads for f in formats]
        cores = os.cpu_count() or 1
        with slurm.Cluster(Path(scratch) / "cluster") as cluster:
            env = {**cluster.env, "TF_CPP_MIN_LOG_LEVEL": "2"}
            print(f"building {len(workloads)} workloads (not timed) ...", flush=True)
            metas = [paths.workload_meta(workload) for workload in workloads]
            snakemake(project, env, "--cores", str(cores), *config, "--", *metas)
            sides = side_arguments(cores, args.first_check)
            print(f"{len(targets)} conversions, {cores} at once on each side:", flush=True)
            seconds = measure(project, env, [*config, "--", *targets], sides, args.rounds)
            job_seconds = conversion_job_seconds(cluster)
        report(seconds, job_seconds, len(targets), cores)


def conversion_job_seconds(cluster: slurm.Cluster) -> list[float]:
    """How long each conversion job ran on the node, from SLURM's own start and end times."""
    return [
        (datetime.fromisoformat(job["end"]) - datetime.fromisoformat(job["start"])).total_seconds()
        for job in cluster.jobs()
        if job["comment"].startswith("rule_convert_") and job["state"] == "COMPLETED"
    ]


def report(seconds: dict[str, list[float]], job_seconds: list[float], jobs: int, slots: int):
    local, cluster = (statistics.median(seconds[side]) for side in ("local", "slurm"))
    print(f"local executor: {local:.1f} s")
    print(f"SLURM executor: {cluster:.1f} s")
    print(f"SLURM / local: {cluster / local:.2f}")
    per_job = (cluster - local) * slots / jobs
    print(f"per-job cost of SLURM: {per_job:.1f} s ({jobs} jobs, {slots} at once)")
    print(
        f"a conversion job on the node: {statistics.median(job_seconds):.1f} s (median of "
        f"{len(job_seconds)}), a local conversion: {local * slots / jobs:.1f} s"
    )


if __name__ == "__main__":
    main()
