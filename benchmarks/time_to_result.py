"""How long until a figure can be trusted to +/- 1%? The agent's adaptive protocol against a
fixed window and against MLPerf LoadGen's default minimum (10 s and 100 queries), side by side,
each run staged and run as the workflow runs it (one process, 1 thread).

For every run it prints the timed window and the half-width of the median's 95% interval that
window achieved. Needs converted models: run `make run` (or the workflow) first.

    .venv/bin/python benchmarks/time_to_result.py [WORKLOAD/FORMAT ...] [--results results]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgebench.fileio import read_workload_meta
from harness_overhead import local_job, run_agent

DEFAULT_RUNS = [
    "mobilenetv2/tflite-fp32",
    "layer-conv2d-f32-s1/tflite-fp32",
    "cell-resnet-identity-f64/tflite-fp32",
    "layer-fc-256-64/tflite-fp32",
]
BASE = {"warmup_runs": 5, "warmup_s": 0.5, "min_runs": 20, "max_runs": 10**7, "processes": 1}
PROTOCOLS = {
    "adaptive (target_ci 1%)": {**BASE, "min_s": 0.0, "max_s": 60.0, "target_ci": 0.01},
    "fixed 1 s (standard suite)": {**BASE, "min_s": 1.0, "max_s": 1.0, "target_ci": 0},
    "LoadGen minimum (10 s, 100 queries)": {
        **BASE,
        "min_runs": 100,
        "min_s": 10.0,
        "max_s": 10.0,
        "target_ci": 0,
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", default=DEFAULT_RUNS, help="WORKLOAD/FORMAT")
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    suite = {"batch_sizes": [1], "seed": 0}
    print("| run | protocol | window (s) | stopped by | median (ms) | 95% CI half-width |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.runs:
        workload, fmt = name.split("/")
        meta_path = args.results / "workloads" / workload / "meta.json"
        if not meta_path.exists():
            raise SystemExit(f"{meta_path} does not exist: run the workflow first")
        for label, timing in PROTOCOLS.items():
            profile, job = local_job(read_workload_meta(meta_path), fmt, suite, timing)
            run = run_agent(args.results, workload, fmt, profile, job)
            print(
                f"| {name} | {label} | {run['window_s']:.2f} | {run['stopped_by']} | "
                f"{run['median_ms']:.4f} | {run['ci_halfwidth']:.2%} |"
            )


if __name__ == "__main__":
    main()
