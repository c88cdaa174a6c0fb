"""The agent as the workflow runs it against a bare LiteRT loop, on the same .tflite files, with
the same timing protocol and the same inputs, interleaved in one run. Target: agent / bare loop
<= 1.02 on the median latency at batch 1.

    .venv/bin/python benchmarks/harness_overhead.py [--results results] [--suite standard]
        [--rounds 5] [WORKLOAD/FORMAT ...]

Agent: the job `edgebench.devices.dispatch.job_settings()` makes from the suite and the local
device profile (its batch sweep and timing: warm-up runs and seconds, min_runs, min_s, max_s,
max_runs), staged and run by `run_on_device()` exactly as the workflow's run step does (a fresh
`python -m edgebench_agent` process), its raw log read back; the figure is the median of its
batch-1 samples. Only the accuracy pass is left out: it runs after the sweep and is not timed.

Bare loop: a fresh interpreter process with nothing but LiteRT and numpy: the same model, the
same seeded inputs (drawn in the workload's input range, quantized with the model's input scale
and zero point for int8 models), the same warm-up and timed window (at least warmup_runs runs
and warmup_s seconds; then at least min_runs runs and min_s seconds, at most max_s and
max_runs), only `invoke()` between the two clock reads.

Both sides get 1 thread, explicitly, so the comparison does not depend on the device's default.
Each round runs every model on both sides back to back, alternating which side goes first.
Printed per model: the median over the rounds of each side's median, and agent / bare as the
median of the per-round ratios (each from two processes that ran one after the other, so slow
drift of the machine cancels), with their range. The load average is printed before and after:
on a shared machine the spread between processes is larger than the harness's overhead.
Default models: the fp32 and int8 TFLite files of mobilenetv2, cell-resnet-identity-f64 and
digits-cnn under --results (made by `make run`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from edgebench.devices.dispatch import job_settings, run_on_device
from edgebench.fileio import read_conversion_record, read_workload_meta
from edgebench.metrics import stats
from edgebench.rawlog import read_run
from edgebench.settings.plan import load_device, load_suite

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = [
    f"{workload}/{fmt}"
    for workload in ("mobilenetv2", "cell-resnet-identity-f64", "digits-cnn")
    for fmt in ("tflite-fp32", "tflite-int8")
]
THREADS = 1
NS_PER_MS = 1_000_000

# The bare loop: standard library, numpy and LiteRT only; the agent's protocol written out.
BARE_LOOP = r"""
import json, sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter

model, job = sys.argv[1], json.loads(sys.argv[2])
timing, (low, high) = job["timing"], job["input_range"]
interpreter = Interpreter(model_path=model, num_threads=job["threads"])
interpreter.allocate_tensors()
details = interpreter.get_input_details()[0]
values = np.random.default_rng(job["seed"]).uniform(low, high, details["shape"])
values = values.astype(np.float32)
scale, zero = details["quantization"]
if scale:  # an int8/uint8 input: quantize with the model's own scale and zero point
    info = np.iinfo(details["dtype"])
    values = np.clip(np.round(values / scale + zero), info.min, info.max)
interpreter.set_tensor(details["index"], values.astype(details["dtype"]))
invoke, clock, NS = interpreter.invoke, time.monotonic_ns, 1_000_000_000
invoke()  # the first inference, apart
warmup_runs, started = 0, clock()
while warmup_runs < timing["warmup_runs"] or clock() - started < timing["warmup_s"] * NS:
    invoke()
    warmup_runs += 1
samples = []
deadline_min = clock() + int(timing["min_s"] * NS)
deadline_max = clock() + int(timing["max_s"] * NS)
while True:
    start = clock()
    invoke()
    end = clock()
    samples.append(end - start)
    if end >= deadline_max or len(samples) >= timing["max_runs"]:
        break
    if len(samples) >= timing["min_runs"] and end >= deadline_min:
        break
print(json.dumps({"median_ns": float(np.median(samples)), "runs": len(samples),
                  "warmup_runs": warmup_runs}))
"""


def local_job(meta: dict, fmt: str, suite: dict, timing: dict | None = None) -> tuple[dict, dict]:
    """The local device's profile with 1 thread, and the job the workflow makes for it."""
    profile = {**load_device("local", ROOT), "threads": THREADS}
    # one process and a fixed window, as the bare loop has: the overhead is what is compared
    profile["timing"] = timing if timing is not None else {"processes": 1, "target_ci": 0}
    return profile, job_settings(profile, suite, meta, fmt)


def run_agent(results: Path, workload: str, fmt: str, profile: dict, job: dict) -> dict:
    """Stage and run the job as the workflow's run step does; batch 1 of its raw log."""
    conversion = results / "converted" / workload / f"{fmt}.json"
    with tempfile.TemporaryDirectory(prefix="harness-agent-") as scratch:
        scratch = Path(scratch)
        raw_log = scratch / "raw" / job["device"] / workload / fmt / "run.jsonl"
        with open(scratch / "run.log", "w") as log:
            status = run_on_device(
                profile, job, conversion, raw_log, log, stage_root=scratch / "stage"
            )
        if status != "complete":
            raise SystemExit(f"{workload}/{fmt}: the agent's run ended {status}: {raw_log}")
        run = read_run(raw_log)
    batch = next(record for record in run.batches if record["batch"] == 1)
    summary = stats.summarize(run.samples[1])
    return {
        "median_ms": statistics.median(run.samples[1].tolist()) / NS_PER_MS,
        "runs": batch["runs"],
        "warmup_runs": batch["warmup_runs"],
        "threads": run.header.get("threads"),
        "window_s": batch.get("window_ns", 0) / 1e9,
        "stopped_by": batch.get("stopped_by"),
        "ci_halfwidth": summary["ci_halfwidth"],
    }


def run_bare(model: Path, job: dict) -> dict:
    bare_job = {key: job[key] for key in ("timing", "input_range", "seed", "threads")}
    command = [sys.executable, "-c", BARE_LOOP, str(model), json.dumps(bare_job)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return {**figures, "median_ms": figures["median_ns"] / NS_PER_MS}


def agent_median_ms(model: Path, warmup: int, runs: int, processes: int = 1) -> float:
    """One staged agent run of `model` (results/converted/{workload}/{format}.tflite) with a
    fixed count of warm-up and timed runs in each of `processes` fresh processes: the median of
    all their samples at batch 1 (ms), the figure the table reports. For stability.py."""
    results = model.resolve().parents[2]
    workload, fmt = model.parent.name, model.stem
    timing = {
        "warmup_runs": warmup,
        "warmup_s": 0.0,
        "min_runs": runs,
        "min_s": 0.0,
        "max_s": 600.0,
        "max_runs": runs,
        "target_ci": 0,
        "processes": processes,
    }
    suite = {"batch_sizes": [1], "seed": 0}
    meta = read_workload_meta(results / "workloads" / workload / "meta.json")
    profile, job = local_job(meta, fmt, suite, timing)
    return run_agent(results, workload, fmt, profile, job)["median_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", default=DEFAULT_RUNS, help="WORKLOAD/FORMAT")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--suite", default="standard")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    suite = load_suite(args.suite, ROOT)
    plans = []
    for name in args.runs:
        workload, fmt = name.split("/")
        conversion = args.results / "converted" / workload / f"{fmt}.json"
        if not conversion.exists():
            raise SystemExit(f"no {conversion}: run `make run` first, or pass --results")
        record = read_conversion_record(conversion)
        meta = read_workload_meta(args.results / "workloads" / workload / "meta.json")
        profile, job = local_job(meta, fmt, suite)
        model = conversion.parent / record["model_file"]
        plans.append((name, workload, fmt, model, profile, job))
    timing = plans[0][5]["timing"]
    print(
        f"suite {args.suite}: timing {json.dumps(timing)}, {THREADS} thread, batch 1, "
        f"{args.rounds} rounds interleaved; load average {load()}"
    )
    figures = {name: {"agent": [], "bare": []} for name, *_ in plans}
    for round_number in range(args.rounds):
        for name, workload, fmt, model, profile, job in plans:
            order = ["agent", "bare"] if round_number % 2 == 0 else ["bare", "agent"]
            for side in order:
                if side == "agent":
                    measured = run_agent(args.results, workload, fmt, profile, job)
                else:
                    measured = run_bare(model, job)
                figures[name][side].append(measured)
            agent, bare = figures[name]["agent"][-1], figures[name]["bare"][-1]
            print(
                f"  round {round_number + 1} {name}: agent {agent['median_ms']:.4f} ms "
                f"({agent['runs']} runs, {agent['warmup_runs']} warm-up, {agent['threads']} "
                f"thread), bare {bare['median_ms']:.4f} ms ({bare['runs']} runs, "
                f"{bare['warmup_runs']} warm-up)",
                flush=True,
            )
    print(f"\nload average {load()}")
    print("| run | agent (ms) | bare loop (ms) | agent / bare | range of the round ratios |")
    print("| --- | --- | --- | --- | --- |")
    for name, *_ in plans:
        agent = [f["median_ms"] for f in figures[name]["agent"]]
        bare = [f["median_ms"] for f in figures[name]["bare"]]
        ratios = [a / b for a, b in zip(agent, bare, strict=True)]
        print(
            f"| {name} | {statistics.median(agent):.4g} | {statistics.median(bare):.4g} | "
            f"{statistics.median(ratios):.3f} | {min(ratios):.2f}-{max(ratios):.2f} |"
        )


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
