"""The agent's OpenVINO runtime against OpenVINO's own benchmark_app on the same IR, interleaved.
Target: agent median / benchmark_app median within 3% (0.97-1.03).

    .venv/bin/python benchmarks/openvino_fidelity.py [--results results] [--workload mobilenetv2]
        [--rounds 5] [--seconds 3]

Both sides: the CPU device, 1 thread and 1 stream, synchronous requests, f32 inference
precision, batch 1, a fixed window of --seconds. The agent is staged and run as the workflow's
run step runs it (one process, target_ci 0); benchmark_app's "Median" latency is read from its
report. Each round runs both, alternating which goes first; printed: each side's median over the
rounds and the median of the per-round ratios with their range. Needs results/converted/
WORKLOAD/openvino-fp32.xml (`snakemake --cores 2 results/converted/mobilenetv2/openvino-fp32.json`).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from edgebench.fileio import read_workload_meta
from harness_overhead import local_job, run_agent

MEDIAN = re.compile(r"Median:\s+([0-9.]+)\s*ms")


def benchmark_app_median_ms(model: Path, shape: list[int], seconds: float) -> float:
    tool = shutil.which("benchmark_app") or str(Path(sys.executable).with_name("benchmark_app"))
    command = [
        tool, "-m", str(model), "-d", "CPU", "-hint", "none", "-nstreams", "1", "-nthreads", "1",
        "-api", "sync", "-t", str(max(1, round(seconds))), "-infer_precision", "f32",
        "-shape", "[" + ",".join(map(str, shape)) + "]",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    found = MEDIAN.search(result.stdout)
    if not found:
        raise SystemExit(f"no median in benchmark_app's report:\n{result.stdout[-2000:]}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--workload", default="mobilenetv2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    fmt = "openvino-fp32"
    model = args.results / "converted" / args.workload / f"{fmt}.xml"
    if not model.exists():
        raise SystemExit(f"no {model}: convert it first (see this script's docstring)")
    meta = read_workload_meta(args.results / "workloads" / args.workload / "meta.json")
    timing = {"processes": 1, "target_ci": 0, "min_s": args.seconds, "max_s": args.seconds + 5,
              "max_runs": 1_000_000, "warmup_runs": 5, "warmup_s": 0.5}  # fmt: skip
    suite = {"batch_sizes": [1], "seed": 0}
    profile, job = local_job(meta, fmt, suite, timing)
    input_shape = meta["input_shape"]
    if input_shape and isinstance(input_shape[0], list):  # one shape per input: the first
        input_shape = input_shape[0]
    shape = [1, *input_shape]
    agent, app = [], []
    for round_index in range(args.rounds):
        sides = ["agent", "app"] if round_index % 2 == 0 else ["app", "agent"]
        for side in sides:
            if side == "agent":
                agent.append(run_agent(args.results, args.workload, fmt, profile, job)["median_ms"])
            else:
                app.append(benchmark_app_median_ms(model, shape, args.seconds))
    ratios = [a / b for a, b in zip(agent, app, strict=True)]
    print(f"{args.workload} {fmt}, {args.rounds} rounds of {args.seconds} s, CPU, 1 thread")
    for name, values in (("agent", agent), ("benchmark_app", app)):
        rounds = ", ".join(f"{x:.3f}" for x in values)
        print(f"  {name:14} median {statistics.median(values):.3f} ms  ({rounds})")
    print(
        f"  agent / benchmark_app: {statistics.median(ratios):.3f} "
        f"(range {min(ratios):.3f} - {max(ratios):.3f}); target 0.97 - 1.03"
    )


if __name__ == "__main__":
    main()
