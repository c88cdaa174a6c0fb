"""What every `snakemake` invocation pays before its first job: loading the workflow (config
validation, catalogs, plan) and planning it, as a dry run of the default suite, for this checkout
against another one (e.g. a `git worktree` of an earlier commit), side by side.

    .venv/bin/python benchmarks/workflow_load.py --before /tmp/old-checkout [--repeat 5]

Each round runs one dry run in a scratch project of each checkout (its own workflow/ on
PYTHONPATH), the one that goes first alternating; prints each side's median wall and CPU
seconds, the median of the per-round ratios, and the load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgebench.testing.project import copy_project

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def dry_run(project: Path, checkout: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one `snakemake -n` in the project, edgebench from `checkout`."""
    env = {**os.environ, "PYTHONPATH": str(checkout / "workflow")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [SNAKEMAKE, "-n", "--cores", "2"], cwd=project, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"dry run in {project} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sides = {"before": args.before.resolve(), "this": ROOT}
    print(f"workflow load (snakemake -n, default suite), {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"  before: {sides['before']}\n  this:   {ROOT}   [{load()}]")
    with tempfile.TemporaryDirectory() as scratch:
        projects = {
            name: copy_project(Path(scratch) / name, source=checkout, link_workflow=False)
            for name, checkout in sides.items()
        }
        figures = {name: [] for name in sides}
        for round_number in range(args.repeat):
            order = list(sides) if round_number % 2 == 0 else list(sides)[::-1]
            for name in order:
                figures[name].append(dry_run(projects[name], sides[name]))
    for name, runs in figures.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"  {name:7s} {wall:6.2f} s wall  {cpu:6.2f} CPU s")
    ratios = [t[0] / b[0] for t, b in zip(figures["this"], figures["before"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"  this / before (median of {args.repeat} per-round ratios): {ratio:.2f}")
    print(f"done [{load()}]")


if __name__ == "__main__":
    main()
