"""The whole `quick` workflow with the warm server and without it (`warm_server=false`), side by
side: each round runs both from empty results in scratch projects, the side that goes first
alternating; prints each run's wall seconds and its job-seconds per rule from the workflow's
own benchmark TSVs (edgebench.metrics.cost), with the load average.

    .venv/bin/python benchmarks/warm_workflow.py [--rounds 2] [--suite quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgebench.metrics import cost
from edgebench.testing.project import copy_project

SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
RULES = ("build_workload", "convert", "reference_outputs", "run", "run_interleaved")


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def workflow(project: Path, suite: str, warm: bool) -> tuple[float, dict[str, float]]:
    shutil.rmtree(project / "results", ignore_errors=True)
    shutil.rmtree(project / ".snakemake", ignore_errors=True)
    config = ["--config", f"suite={suite}", f"warm_server={str(warm).lower()}"]
    started = time.perf_counter()
    done = subprocess.run(
        [SNAKEMAKE, "--cores", "4", *config], cwd=project, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the workflow failed in {project}:\n{done.stderr[-3000:]}")
    costs = cost.summarize(cost.job_costs(cost.found_jobs(project), root=project), "rule")
    return wall, dict(zip(costs["rule"], costs["s"], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--suite", default="quick")
    args = parser.parse_args()
    print(f"the {args.suite} workflow, warm server on and off, {time.strftime('%Y-%m-%d %H:%M')}")
    walls = {True: [], False: []}
    with tempfile.TemporaryDirectory() as scratch:
        projects = {warm: copy_project(Path(scratch) / f"warm-{warm}") for warm in (True, False)}
        for round_number in range(args.rounds):
            order = (True, False) if round_number % 2 == 0 else (False, True)
            for warm in order:
                wall, per_rule = workflow(projects[warm], args.suite, warm)
                walls[warm].append(wall)
                rules = ", ".join(f"{rule} {per_rule.get(rule, 0):.1f}" for rule in RULES)
                print(f"  round {round_number + 1} warm={warm!s:5s} {wall:6.1f} s  ({rules})")
                print(f"    [{load()}]")
    for warm, figures in walls.items():
        print(f"  warm={warm!s:5s} median {statistics.median(figures):6.1f} s wall")
    print(f"done [{load()}]")


if __name__ == "__main__":
    main()
