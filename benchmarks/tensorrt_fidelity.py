"""The agent's TensorRT runtime against trtexec on the same engine, interleaved.

    .venv/bin/python benchmarks/tensorrt_fidelity.py [--results results] [--workload mobilenetv2]
        [--format tensorrt-fp32] [--batch 1] [--rounds 5] [--seconds 3] [--end-to-end]

The engine is the conversion's (results/converted/WORKLOAD/FORMAT.json): a host-built engine as
it is, or, where the engine is built on the device, one built here by the agent's own runtime
and builder (edgebench.agent.tensorrt_build) from the staged ONNX model. Each round runs both
sides in fresh processes, alternating which goes first:
- agent: the agent's TensorRT runtime and timing protocol (edgebench.agent.protocol.measure)
  on the engine at --batch, seeded inputs, a window of --seconds: the median of its samples;
- trtexec: `trtexec --loadEngine=E --exportTimes=F` for the same shapes and window
  (edgebench.testing.trtexec_fidelity.trtexec_fidelity_argv: --noDataTransfers unless
  --end-to-end), and `trtexec_median_ms(parse_export_times(F))` of its compute time (its
  latency with --end-to-end).
Printed: each side's median over the rounds, and agent / trtexec as the median of the per-round
ratios with their range. Needs an NVIDIA GPU with TensorRT (its Python module and trtexec) and
cuda-python; elsewhere it prints why it cannot run and exits 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from edgebench.agent.protocol import Timing, measure
from edgebench.agent.runtimes import RuntimeUnavailable
from edgebench.convert.tensorrt import trtexec
from edgebench.devices.staging import stage_run
from edgebench.fileio import read_conversion_record
from edgebench.testing.trtexec_fidelity import (
    parse_export_times,
    trtexec_fidelity_argv,
    trtexec_median_ms,
)

NS_PER_MS = 1_000_000


def why_not_here() -> list[str]:
    """Why this machine cannot compare the two (nothing where it can)."""
    from edgebench.agent.runtimes.tensorrt import TensorRT

    reasons = [] if trtexec() else ["trtexec is not on PATH (nor in /usr/src/tensorrt/bin)"]
    try:
        runtime = TensorRT()
    except RuntimeUnavailable as error:
        return [*reasons, str(error)]
    error, count = runtime._cudart.cudaGetDeviceCount()
    if error != runtime._cudart.cudaError_t.cudaSuccess or count == 0:
        reasons.append(f"CUDA finds no GPU ({getattr(error, 'name', error)})")
    return reasons


def engine_for(conversion: Path, batch: int, scratch: Path) -> Path:
    """The conversion's engine; built here by the agent where the device builds it."""
    record = read_conversion_record(conversion)
    if record["status"] != "ok":
        raise SystemExit(f"{conversion} is {record['status']}: {record['reason']}")
    model = conversion.parent / record["model_file"]
    if (record.get("build") or {}).get("build_on") != "device":
        return model
    from edgebench.agent.runtimes.tensorrt import TensorRT

    companions = [conversion.parent / name for name in record["files"] if name != model.name]
    stage = scratch / "stage"
    stage_run(stage, model, {}, None, companions, with_agent=False)
    (stage / "out").mkdir()
    runtime = TensorRT()
    runtime.prepare(str(stage / "model.onnx"), batch, 1)  # writes out/engine.plan
    runtime.close()
    return stage / "out" / "engine.plan"


def agent_median(engine: Path, batch: int, seconds: float, end_to_end: bool) -> dict:
    """One fresh process timing the engine with the agent's runtime: {median_ms, runs, shapes}."""
    command = [sys.executable, __file__, "--agent-side", str(engine), "--batch", str(batch)]
    command += ["--seconds", str(seconds), *(["--end-to-end"] if end_to_end else [])]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def agent_side(engine: Path, batch: int, seconds: float, end_to_end: bool) -> None:
    from edgebench.agent.runner import random_inputs
    from edgebench.agent.runtimes.tensorrt import TensorRT

    runtime = TensorRT(end_to_end=end_to_end)
    runtime.prepare(str(engine), batch, 1)
    runtime.feed(random_inputs(runtime, (0.0, 1.0), seed=0))
    timing = Timing(min_runs=100, min_s=seconds, max_s=seconds + 5, max_runs=10**6, target_ci=0)
    measurement = measure(runtime.infer, timing)
    durations = np.subtract(measurement.ends, measurement.starts)
    inputs = [t for t in runtime.details()["engine_tensors"] if t["mode"] == "input"]
    runtime.close()
    figures = {
        "median_ms": float(np.median(durations)) / NS_PER_MS,
        "runs": len(durations),
        "shapes": {t["name"]: t["shape"] for t in inputs},
    }
    print(json.dumps(figures))


def trtexec_median(engine: Path, shapes: dict, seconds: float, end_to_end: bool) -> float:
    with tempfile.TemporaryDirectory(prefix="trtexec-times-") as folder:
        times = Path(folder) / "times.json"
        command = trtexec_fidelity_argv(
            engine,
            times,
            trtexec=trtexec(),
            shapes=shapes,
            end_to_end=end_to_end,
            duration_s=max(1, round(seconds)),
        )
        subprocess.run(command, capture_output=True, text=True, check=True)
        records = parse_export_times(times)
    return trtexec_median_ms(records, "latency_ms" if end_to_end else "compute_ms")


def compare(engine: Path, args) -> None:
    agent, tool = [], []
    shapes = agent_median(engine, args.batch, 1.0, args.end_to_end)["shapes"]
    for round_index in range(args.rounds):
        sides = ["agent", "trtexec"] if round_index % 2 == 0 else ["trtexec", "agent"]
        for side in sides:
            if side == "agent":
                agent.append(agent_median(engine, args.batch, args.seconds, args.end_to_end))
            else:
                tool.append(trtexec_median(engine, shapes, args.seconds, args.end_to_end))
    medians = [figures["median_ms"] for figures in agent]
    ratios = [a / t for a, t in zip(medians, tool, strict=True)]
    timing = "end to end (copies inside)" if args.end_to_end else "compute (copies outside)"
    print(f"{args.workload} {args.format}, batch {args.batch}, {args.rounds} rounds of "
          f"{args.seconds} s, {timing}; engine {engine}")  # fmt: skip
    for name, values in (("agent", medians), ("trtexec", tool)):
        rounds = ", ".join(f"{x:.4f}" for x in values)
        print(f"  {name:8} median {statistics.median(values):.4f} ms  ({rounds})")
    print(
        f"  agent / trtexec: {statistics.median(ratios):.3f} "
        f"(range {min(ratios):.3f} - {max(ratios):.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--workload", default="mobilenetv2")
    parser.add_argument("--format", default="tensorrt-fp32")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--agent-side", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agent_side:
        agent_side(args.agent_side, args.batch, args.seconds, args.end_to_end)
        return
    reasons = why_not_here()
    if reasons:
        print("tensorrt_fidelity cannot run here: " + "; ".join(reasons))
        return
    conversion = args.results / "converted" / args.workload / f"{args.format}.json"
    if not conversion.exists():
        raise SystemExit(f"no {conversion}: convert it first (snakemake --cores 2 {conversion})")
    with tempfile.TemporaryDirectory(prefix="tensorrt-fidelity-") as scratch:
        compare(engine_for(conversion, args.batch, Path(scratch)), args)


if __name__ == "__main__":
    main()
