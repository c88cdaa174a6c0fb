"""The fixed cost of a job: what a conversion and a run's agent process spend before their work.

    .venv/bin/python benchmarks/job_startup.py [--workload-dir results/workloads/NAME]
        [--formats tflite-fp32,onnx-fp32,openvino-fp32] [--repeat 3] [--project .]

Prints, each with the load average when it was measured (this shared 2-core VM stretches every
figure under load):
- the import time of each heavy module in a fresh Python (tensorflow, keras, tf2onnx, openvino,
  onnxruntime, ai_edge_litert, snakemake, edgebench.convert.job);
- per conversion, a fresh `python -m edgebench.convert` (what every engine runs) end to end
  against its record's `duration_s`, its `work_s` (the converter itself, after its imports and
  model load) and whether it imported TensorFlow; the model is written to a scratch folder;
- per conversion, the workflow's own call with the warm server (edgebench.warm: TensorFlow
  imported once, each conversion a forked child) against a fresh process, side by side;
- the agent's start-up per runtime: a fresh Python that imports the staged agent package and
  loads the runtime (what each timing process does before it loads the model);
- with `--project`, the workflow's own figures of its last run: each conversion job's wall
  seconds (Snakemake's benchmark TSV) against the conversion's `duration_s`.
Medians over `--repeat` fresh processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = [
    "tensorflow",
    "keras",
    "tf2onnx",
    "openvino",
    "onnxruntime",
    "ai_edge_litert.interpreter",
    "snakemake",
    "edgebench.convert.job",
]
RUNTIMES = ["tflite", "onnx", "openvino"]
# runs `python -m edgebench.convert ARGS` and says which heavy modules it imported
# (however the module leaves: SystemExit and the interpreter's teardown, or os._exit)
CONVERT = """
import os, runpy, sys, time
started = time.monotonic()
def report():
    heavy = ("tensorflow", "keras", "tf2onnx", "openvino", "nncf")
    found = [m for m in heavy if m in sys.modules]
    print("IMPORTED", ",".join(found) or "-", time.monotonic() - started, flush=True)
leave = os._exit
os._exit = lambda code: (report(), leave(code))
sys.argv = ["edgebench.convert", *sys.argv[1:]]
try:
    runpy.run_module("edgebench.convert", run_name="__main__")
except SystemExit:
    report()
"""
AGENT = """
import sys, time
started = time.monotonic()
sys.path.insert(0, sys.argv[1])
from edgebench_agent.runtimes import load_runtime
load_runtime(sys.argv[2], None, {})
print("READY", time.monotonic() - started)
"""


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def fresh(args: list[str], env: dict | None = None) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args[:3])}... failed:\n{done.stderr[-2000:]}")
    return time.monotonic() - started, done.stdout


def median(values: list[float]) -> float:
    return statistics.median(values)


def imports(repeat: int) -> None:
    print(f"\nimport in a fresh Python (median of {repeat}; python -c pass subtracted) [{load()}]")
    bare = median([fresh(["-c", "pass"])[0] for _ in range(repeat)])
    for module in MODULES:
        seconds = median([fresh(["-c", f"import {module}"])[0] for _ in range(repeat)])
        print(f"  {module:30s} {seconds - bare:6.2f} s")
    print(f"  {'(python -c pass)':30s} {bare:6.2f} s   [{load()}]")


def conversions(workload_dir: Path, formats: list[str], repeat: int) -> None:
    print(f"\nconversion of {workload_dir.name}, a fresh process each (median of {repeat})")
    print(f"  {'format':16s} {'end to end':>10s} {'duration_s':>10s} {'work_s':>8s}  imported")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'workflow'}:{os.environ.get('PYTHONPATH', '')}"}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        source_records = workload_dir.parents[1] / "converted" / workload_dir.name
        for fmt in formats:
            walls, durations, works, heavy = [], [], [], "-"
            for _ in range(repeat):
                for name in source_records.glob("*"):  # formats made from another one
                    if not (out / name.name).exists():
                        shutil.copy(name, out / name.name)
                record = out / f"{fmt}.json"
                argv = ["--workload-dir", str(workload_dir), "--format", fmt]
                argv += ["--record", str(record)]
                wall, stdout = fresh(["-c", CONVERT, *argv], env)
                facts = json.loads(record.read_text())
                if facts["status"] != "ok":
                    raise SystemExit(f"{fmt}: {facts['status']}: {facts['reason']}")
                walls.append(wall)
                durations.append(facts["duration_s"])
                works.append(facts.get("work_s", float("nan")))
                heavy = stdout.split("IMPORTED ")[-1].split()[0]
            print(
                f"  {fmt:16s} {median(walls):8.2f} s {median(durations):8.2f} s "
                f"{median(works):6.2f} s  {heavy}   [{load()}]"
            )


def warm_against_fresh(workload_dir: Path, formats: list[str], repeat: int) -> None:
    """The workflow's own conversion call (edgebench.convert.engine.run_conversion) with and
    without the warm server, side by side: each round runs both, the side that goes first
    alternating; the server is started before the first round (its start is printed apart)."""
    from edgebench import warm
    from edgebench.convert.engine import run_conversion
    from edgebench.images.engines import Engine

    print(f"\nconversion of {workload_dir.name}: warm server against a fresh process, job wall s")
    print(f"  (median of {repeat} rounds, alternating which goes first)")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        for name in (workload_dir.parents[1] / "converted" / workload_dir.name).glob("*"):
            shutil.copy(name, out / name.name)  # formats made from another one need it

        def job(fmt: str, server: bool) -> float:
            record = out / f"{fmt}.json"
            started = time.monotonic()
            run_conversion(
                Engine("none"), workload_dir, fmt, record, out / "log", 8, 0, server=server
            )
            wall = time.monotonic() - started
            if json.loads(record.read_text())["status"] != "ok":
                raise SystemExit(f"{fmt}: {record.read_text()}")
            return wall

        started = time.monotonic()
        with open(out / "start.log", "w") as log:
            warm.run_warm("edgebench.warm:ready", {}, log, say=lambda line: None)
        print(
            f"  first job: {time.monotonic() - started:.2f} s (it starts the server, TensorFlow's "
            "import once, where none of this checkout runs)"
        )
        for fmt in formats:
            sides = {True: [], False: []}
            for round_number in range(repeat):
                order = (True, False) if round_number % 2 == 0 else (False, True)
                for server in order:
                    sides[server].append(job(fmt, server))
            ratios = [w / f for w, f in zip(sides[True], sides[False], strict=True)]
            warm_s, fresh_s = median(sides[True]), median(sides[False])
            print(
                f"  {fmt:16s} warm {warm_s:6.2f} s  fresh {fresh_s:6.2f} s"
                f"  warm/fresh {median(ratios):5.2f}   [{load()}]"
            )


def agents(repeat: int) -> None:
    print(f"\nagent start-up: fresh Python to a loaded runtime (median of {repeat}) [{load()}]")
    with tempfile.TemporaryDirectory() as stage:
        shutil.copytree(
            ROOT / "workflow" / "edgebench" / "agent",
            Path(stage) / "edgebench_agent",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        for family in RUNTIMES:
            runs = [fresh(["-c", AGENT, stage, family]) for _ in range(repeat)]
            walls = [wall for wall, _ in runs]
            seconds = [float(stdout.split()[-1]) for _, stdout in runs]
            print(
                f"  {family:10s} {median(walls):6.2f} s end to end, {median(seconds):6.2f} s "
                f"in the process   [{load()}]"
            )


def workflow_figures(project: Path) -> None:
    benchmarks = project / "results" / "benchmarks" / "convert"
    tsvs = sorted(benchmarks.glob("*/*.tsv"))
    if not tsvs:
        print(f"\nno conversion benchmark TSV under {benchmarks}")
        return
    print(f"\nthe workflow's conversion jobs ({project}): job wall s / conversion duration_s")
    for tsv in tsvs:
        wall = float(tsv.read_text().splitlines()[1].split("\t")[0])
        record = project / "results" / "converted" / tsv.parent.name / f"{tsv.stem}.json"
        facts = json.loads(record.read_text()) if record.is_file() else {}
        work = facts.get("work_s")
        print(
            f"  {tsv.parent.name:28s} {tsv.stem:16s} {wall:7.2f} s / "
            f"{facts.get('duration_s', float('nan')):7.2f} s"
            + (f" (converter {work:.2f} s)" if work is not None else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload-dir", type=Path)
    parser.add_argument("--formats", default="tflite-fp32,onnx-fp32,openvino-fp32")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--project", type=Path, help="a project folder after a workflow run")
    parser.add_argument("--skip", default="", help="sections to skip: imports,agents")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    print(f"job start-up costs, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {load()}")
    if "imports" not in skip:
        imports(args.repeat)
    if args.workload_dir is not None:
        conversions(args.workload_dir.resolve(), args.formats.split(","), args.repeat)
        warm_against_fresh(args.workload_dir.resolve(), args.formats.split(","), args.repeat)
    if "agents" not in skip:
        agents(args.repeat)
    if args.project is not None:
        workflow_figures(args.project)
    print(f"\ndone, {load()}")


if __name__ == "__main__":
    main()
