"""Does reading a power meter disturb what it measures? The same local run with and without
a sampler, side by side: the serial line meter (an INA219-style board streaming
`timestamp_ms,volts,amps` every 10 ms, emulated on a real pseudo-terminal) read by the host while
the agent times the model, against no power source. Target: with / without <= 1.02 on the
median latency.

    .venv/bin/python benchmarks/power_overhead.py [WORKLOAD/FORMAT] [--rounds 5] [--min-s 2]

Each round runs both sides back to back, alternating which goes first; printed: each side's
median over the rounds of its run's median, and with / without as the median of the per-round
ratios (two runs one after the other, so slow drift of the machine cancels) with their range.
One process per run, 1 thread, a fixed window (target_ci 0), no idle window. The model comes
from `make run` (results/converted/...).
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from edgebench.devices.dispatch import job_settings
from edgebench.fileio import read_workload_meta
from edgebench.testing.meters import LineMeterEmulator
from harness_overhead import local_job, run_agent


def jobs(results: Path, workload: str, fmt: str, min_s: float, port: str) -> dict:
    meta = read_workload_meta(results / "workloads" / workload / "meta.json")
    timing = {"processes": 1, "target_ci": 0, "min_s": min_s, "max_s": min_s + 5}
    suite = {"batch_sizes": [1], "seed": 0}
    profile, _ = local_job(meta, fmt, suite, timing)
    profile = {**profile, "power": {"source": "none"}}
    without = job_settings(profile, suite, meta, fmt)
    meter = {"source": "serial-meter", "port": port, "interval_ms": 10, "idle_s": 0}
    metered = {**profile, "power": meter}
    return {
        "without": (profile, without),
        "with": (metered, job_settings(metered, suite, meta, fmt)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default="mobilenetv2/tflite-fp32")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-s", type=float, default=2.0)
    args = parser.parse_args()
    workload, fmt = args.run.split("/")
    if not (args.results / "converted" / workload / f"{fmt}.json").exists():
        raise SystemExit(f"no conversion of {args.run} under {args.results}: run `make run` first")
    medians = {"with": [], "without": []}
    print(f"load average before: {os.getloadavg()}")
    with LineMeterEmulator(interval_s=0.01) as meter:
        plans = jobs(args.results, workload, fmt, args.min_s, meter.port)
        for round_index in range(args.rounds):
            order = ["without", "with"] if round_index % 2 == 0 else ["with", "without"]
            for side in order:
                profile, job = plans[side]
                medians[side].append(
                    run_agent(args.results, workload, fmt, profile, job)["median_ms"]
                )
    print(f"load average after: {os.getloadavg()}")
    ratios = [w / wo for w, wo in zip(medians["with"], medians["without"], strict=True)]
    print(f"{args.run}, {args.rounds} rounds, {args.min_s} s windows, line meter at 10 ms")
    for side in ("without", "with"):
        print(f"  {side:8} sampler: median {statistics.median(medians[side]):.4f} ms "
              f"(rounds: {', '.join(f'{m:.4f}' for m in medians[side])})")  # fmt: skip
    print(
        f"  with / without: {statistics.median(ratios):.3f} "
        f"(range {min(ratios):.3f} - {max(ratios):.3f}); target <= 1.02"
    )


if __name__ == "__main__":
    main()
