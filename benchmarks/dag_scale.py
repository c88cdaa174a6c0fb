"""How long Snakemake takes to plan the `full` suite for 1, 4 and 16 devices (dry run), and how
long a no-op rerun takes after a complete run.

    .venv/bin/python benchmarks/dag_scale.py [--rerun-suite standard] [--repeat 3]

The complete run for the no-op figure uses --rerun-suite (default standard: the full suite takes
hours on a 2-core machine); pass --rerun-suite full where you can afford it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from edgebench.testing.project import copy_project

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def add_device_clones(project: Path, count: int) -> list[str]:
    """Extra profiles that copy devices/local.yaml under new names, so the DAG grows."""
    template = yaml.safe_load((project / "devices" / "local.yaml").read_text())
    names = ["local"]
    for index in range(1, count):
        name = f"bench-{index:02d}"
        (project / "devices" / f"{name}.yaml").write_text(
            yaml.safe_dump({**template, "name": name})
        )
        names.append(name)
    return names


def timed(project: Path, *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "2", *args], cwd=project, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"snakemake {args} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def job_total(dry_run_output: str) -> int:
    for line in dry_run_output.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total":
            return int(parts[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rerun-suite", default="standard")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = copy_project(Path(scratch) / "project")
        clones = add_device_clones(project, 16)
        print(f"plan (dry run) of the full suite, median of {args.repeat}:")
        for count in (1, 4, 16):
            devices = ",".join(clones[:count])
            config = ["--config", "suite=full", f"devices={devices}"]
            runs = [timed(project, "-n", "--quiet", "rules", *config) for _ in range(args.repeat)]
            median = statistics.median(seconds for seconds, _ in runs)
            jobs = job_total(runs[0][1])
            print(f"  {count:2d} device(s): {jobs:5d} jobs, {median:6.2f} s")
        config = ["--config", f"suite={args.rerun_suite}"]
        print(
            f"complete run of the {args.rerun_suite} suite (once, to have something to rerun) ..."
        )
        seconds, _ = timed(project, *config)
        print(f"  complete run: {seconds:.1f} s")
        reruns = [timed(project, *config)[0] for _ in range(args.repeat)]
        print(f"  no-op rerun: {statistics.median(reruns):.2f} s (median of {args.repeat})")


if __name__ == "__main__":
    main()
