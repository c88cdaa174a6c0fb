"""The same run repeated: how far apart are the medians the table would report?
Each repeat is one staged agent run timing the model in `--processes` fresh processes (the
workflow's default for models is 3) and pooling their samples; `--processes 1` is the old
one-process protocol. Target on a quiet 2-core machine: max/min of the reported medians <= 1.05.

    .venv/bin/python benchmarks/stability.py [MODEL.tflite] [--repeats 5] [--runs 300]
        [--processes 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness_overhead import agent_median_ms

DEFAULT_MODEL = Path("results/converted/mobilenetv2/tflite-fp32.tflite")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--runs", type=int, default=300, help="timed runs per process")
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    if not args.model.exists():
        raise SystemExit(f"{args.model} does not exist: run `make run` first or name a model")
    medians = [
        agent_median_ms(args.model, args.warmup, args.runs, args.processes)
        for _ in range(args.repeats)
    ]
    print(f"{args.model}, {args.processes} process(es) a run: reported medians (ms) ")
    print("  " + ", ".join(f"{m:.4f}" for m in medians))
    print(f"spread max/min = {max(medians) / min(medians):.3f}")


if __name__ == "__main__":
    main()
