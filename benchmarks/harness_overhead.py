"""The agent's median latency against a bare interpreter loop and against litert-benchmark
(LiteRT's own tool, installed with ai-edge-litert), on the same .tflite files, interleaved in
one run, one thread each. Target: agent / bare loop <= 1.02 on the median.

    .venv/bin/python benchmarks/harness_overhead.py [MODEL.tflite ...] [--rounds 3] [--runs 300]

Without model arguments it uses the fp32 TFLite files that `make run` converted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from edgebench.devices.staging import AGENT_PACKAGE, stage_run

DEFAULT_MODELS = [
    "results/converted/mobilenetv2/tflite-fp32.tflite",
    "results/converted/cell-resnet-identity-f64/tflite-fp32.tflite",
    "results/converted/digits-cnn/tflite-fp32.tflite",
]
LITERT_BENCHMARK = str(Path(sys.executable).parent / "litert-benchmark")

BARE_LOOP = """
import sys, time, statistics, numpy as np
from ai_edge_litert.interpreter import Interpreter
model, warmup, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
it = Interpreter(model_path=model, num_threads=1)
it.allocate_tensors()
d = it.get_input_details()[0]
x = np.random.default_rng(0).uniform(-1, 1, d["shape"]).astype(d["dtype"])
it.set_tensor(d["index"], x)
for _ in range(warmup):
    it.invoke()
samples = []
for _ in range(runs):
    t0 = time.monotonic_ns(); it.invoke(); samples.append(time.monotonic_ns() - t0)
print(statistics.median(samples) / 1e6)
"""


def agent_median_ms(model: Path, warmup: int, runs: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        stage = Path(scratch)
        job = {
            "device": "local", "workload": model.parent.name, "format": "tflite-fp32",
            "family": "tflite", "batch_sizes": [1], "threads": 1, "seed": 0,
            "input_range": [-1.0, 1.0],
            "timing": {"warmup_runs": warmup, "warmup_s": 0.0, "min_runs": runs, "min_s": 0.0,
                       "max_s": 600.0, "max_runs": runs},
        }  # fmt: skip
        stage_run(stage, model, job, None)
        subprocess.run([sys.executable, "-m", AGENT_PACKAGE, "job.json"], cwd=stage, check=True,
                       capture_output=True)  # fmt: skip
        lines = (stage / "out" / "run.jsonl").read_text().splitlines()
        samples = [json.loads(line) for line in lines if '"type":"sample"' in line]
        return statistics.median(s["end_ns"] - s["start_ns"] for s in samples) / 1e6


def bare_median_ms(model: Path, warmup: int, runs: int) -> float:
    command = [sys.executable, "-c", BARE_LOOP, str(model), str(warmup), str(runs)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(result.stdout.split()[-1])


def litert_benchmark_median_ms(model: Path, warmup: int, runs: int) -> float | None:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        command = [
            LITERT_BENCHMARK, "--model", str(model), "--num_threads", "1",
            "--warmup_runs", str(warmup), "--num_runs", str(runs), "--result_json", str(out),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not out.exists():
            print(f"    litert-benchmark failed: {result.stderr.strip().splitlines()[-1:]}")
            return None
        return json.loads(out.read_text())["latency"]["median_ms"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    models = args.models or [Path(m) for m in DEFAULT_MODELS if Path(m).exists()]
    if not models:
        raise SystemExit("no .tflite files: run `make run` first or name models")
    print(f"median latency in ms, {args.runs} runs after {args.warmup} warm-ups, 1 thread")
    for model in models:
        agent, bare, tool = [], [], []
        for _ in range(args.rounds):  # interleaved, so drift hits all three alike
            agent.append(agent_median_ms(model, args.warmup, args.runs))
            bare.append(bare_median_ms(model, args.warmup, args.runs))
            tool.append(litert_benchmark_median_ms(model, args.warmup, args.runs))
        a, b = statistics.median(agent), statistics.median(bare)
        line = f"{model}: agent {a:.4f}  bare loop {b:.4f}  agent/bare {a / b:.3f}"
        measured = [t for t in tool if t is not None]
        if measured:
            t = statistics.median(measured)
            line += f"  litert-benchmark {t:.2f}  agent/litert-benchmark {a / t:.3f}"
        print(line)


if __name__ == "__main__":
    main()
