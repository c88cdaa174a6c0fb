"""The same run repeated: how far apart are the medians the table would report?
Each repeat is one staged agent run timing the model in `--processes` fresh processes (the
workflow's default for models is 3) and pooling their samples; `--processes 1` is the old
one-process protocol. Target on a quiet 2-core machine: max/min of the reported medians <= 1.05.

    .venv/bin/python benchmarks/stability.py [MODEL.tflite] [--repeats 5] [--runs 300]
        [--processes 3]

With `--schedules`, the spread of a format-to-format ratio across repeated runs, under the
sequential and the interleaved schedule (README, Interleaved schedule):

    .venv/bin/python benchmarks/stability.py --schedules [--results results]
        [--suite standard] [--repeats 6] [--threads 1] [--pairs WORKLOAD/REFERENCE/FORMAT ...]

Each repeat times the two formats of a workload both ways, the schedule that goes first
alternating between repeats: sequential, as the workflow's `run` jobs do (`run_on_device`: the
reference's processes, then the other format's), its ratio the reference's pooled median over
the other's; interleaved, as the workflow's interleaved job does (`run_interleaved_on_device`:
round r runs one process of each format, the order alternating), its ratio the paired speed-up
of the tables (`edgebench.metrics.speedup`: the median of the per-round ratios). Both take the
suite's timing and the same number of processes (rounds). Printed: each repeat's two ratios,
then per schedule the ratios' max/min and their coefficient of variation across repeats, with
the load average before and after.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from edgebench.devices.dispatch import job_settings, run_interleaved_on_device, run_on_device
from edgebench.fileio import read_workload_meta
from edgebench.metrics.speedup import paired_entry, paired_speedups
from edgebench.rawlog import read_run
from edgebench.settings.plan import load_device, load_suite
from harness_overhead import ROOT, agent_median_ms, load

DEFAULT_PAIRS = [
    "mobilenetv2/tflite-fp32/tflite-int8",
    "cell-resnet-identity-f64/tflite-fp32/tflite-int8",
]

DEFAULT_MODEL = Path("results/converted/mobilenetv2/tflite-fp32.tflite")


def sequential_ratio(results: Path, workload: str, formats: list[str], jobs: dict, profile):
    """Both formats one after the other, as sequential jobs: reference median / other's."""
    medians = []
    with tempfile.TemporaryDirectory(prefix="stability-") as scratch:
        for fmt in formats:
            raw = Path(scratch, "raw", fmt, "run.jsonl")
            with open(Path(scratch, "run.log"), "a") as log:
                conversion = results / "converted" / workload / f"{fmt}.json"
                status = run_on_device(profile, jobs[fmt], conversion, raw, log,
                                       stage_root=Path(scratch, "stage"))  # fmt: skip
            if status != "complete":
                raise SystemExit(f"{workload}/{fmt}: the sequential run ended {status}")
            medians.append(statistics.median(read_run(raw).samples[1].tolist()))
    return medians[0] / medians[1]


def interleaved_ratio(results: Path, workload: str, formats: list[str], jobs: dict, profile):
    """Both formats in one interleaved job: the tables' paired speed-up of the other format."""
    with tempfile.TemporaryDirectory(prefix="stability-") as scratch:
        conversions = {f: results / "converted" / workload / f"{f}.json" for f in formats}
        raws = {f: Path(scratch, "raw", f, "run.jsonl") for f in formats}
        with open(Path(scratch, "run.log"), "w") as log:
            statuses = run_interleaved_on_device(
                profile, jobs, conversions, raws, log, stage_root=Path(scratch, "stage"),
                reference=formats[0],
            )  # fmt: skip
        if set(statuses.values()) != {"complete"}:
            raise SystemExit(f"{workload}: the interleaved run ended {statuses}")
        speedups = paired_speedups([paired_entry(read_run(raws[f])) for f in formats])
    row = speedups[(speedups["format"] == formats[1]) & (speedups["batch"] == 1)]
    return float(row["speedup"].iloc[0])


def spread(values: list[float]) -> str:
    cv = statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else float("nan")
    return f"max/min {max(values) / min(values):.3f}, CV {cv:.1%}"


def schedules(args) -> None:
    suite = load_suite(args.suite, ROOT)
    profile = {**load_device("local", ROOT), "threads": args.threads}
    print(
        f"suite {args.suite}: timing {suite.get('timing')}, {args.threads} thread(s), batch 1, "
        f"{args.repeats} repeats; load average {load()}",
        flush=True,
    )
    table = []
    for pair in args.pairs:
        workload, *formats = pair.split("/")
        meta = read_workload_meta(args.results / "workloads" / workload / "meta.json")
        suites = {
            name: {**suite, "batch_sizes": [1], "schedule": name}
            for name in ("sequential", "interleaved")
        }
        # the same number of processes both ways: the interleaved default (rounds)
        jobs = {f: job_settings(profile, suites["interleaved"], meta, f) for f in formats}
        ratios = {"sequential": [], "interleaved": []}
        for repeat in range(args.repeats):
            order = ["sequential", "interleaved"][:: 1 if repeat % 2 == 0 else -1]
            for name in order:
                measure = sequential_ratio if name == "sequential" else interleaved_ratio
                ratios[name].append(measure(args.results, workload, formats, jobs, profile))
            print(
                f"  {pair} repeat {repeat + 1}: sequential {ratios['sequential'][-1]:.3f}, "
                f"interleaved {ratios['interleaved'][-1]:.3f} (load {load()})",
                flush=True,
            )
        processes = jobs[formats[0]]["processes"]
        for name, values in ratios.items():
            table.append((pair, name, processes, values))
    print(f"\nload average {load()}")
    print("| workload: reference / format | schedule | processes | median ratio | spread |")
    print("| --- | --- | --- | --- | --- |")
    for pair, name, processes, values in table:
        print(
            f"| {pair} | {name} | {processes} | {statistics.median(values):.3f} | "
            f"{spread(values)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--schedules", action="store_true", help="sequential vs interleaved")
    parser.add_argument("--pairs", nargs="*", default=DEFAULT_PAIRS, help="W/REFERENCE/FORMAT")
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--suite", default="standard")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, help="default 5 (with --schedules 6)")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--runs", type=int, default=300, help="timed runs per process")
    parser.add_argument("--processes", type=int, default=3)
    args = parser.parse_args()
    if args.schedules:
        args.repeats = args.repeats or 6
        schedules(args)
        return
    args.repeats = args.repeats or 5
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
