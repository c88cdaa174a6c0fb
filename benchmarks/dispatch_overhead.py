"""Dispatch overhead of the ssh transport: wall time of a remote run minus the agent's own time,
per run, with and without connection reuse (ControlMaster), against a loopback board (a real
sshd on 127.0.0.1). Target: <= 1.5 s per run with reuse.

    .venv/bin/python benchmarks/dispatch_overhead.py [--runs 5]

Needs Debian's openssh-server (/usr/sbin/sshd).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from edgebench.convert.job import convert_workload
from edgebench.devices.ssh import SshTransport
from edgebench.devices.staging import stage_run
from edgebench.rawlog import read_run
from edgebench.settings import load_catalog
from edgebench.testing.boards import Board, Keys
from edgebench.testing.project import REPO
from edgebench.workloads.build import build_workload

JOB = {
    "device": "loopback", "workload": "layer-fc-128-32", "format": "tflite-fp32",
    "runtime_family": "tflite", "batch_sizes": [1], "threads": 1, "seed": 0, "input_range": [-1, 1],
    "timing": {"warmup_runs": 5, "warmup_s": 0.0, "min_runs": 50, "min_s": 0.2, "max_s": 5.0},
}  # fmt: skip


def one_run(transport: SshTransport, stage_root: Path, model: Path) -> tuple[float, float]:
    """(wall seconds of stage + push + run + pull + cleanup, the agent process's own seconds,
    imports of numpy and the runtime included)."""
    stage = stage_root / JOB["workload"] / JOB["format"]
    started = time.perf_counter()
    stage_run(stage, model, JOB, None)
    with tempfile.TemporaryFile("w+") as log:
        code = transport.run(stage, log)
    run = read_run(stage / "out" / "run.jsonl")
    transport.cleanup(stage)
    wall = time.perf_counter() - started
    if code != 0 or run.end["status"] != "complete":
        raise SystemExit(f"the run failed: {run.end}")
    return wall, (run.end["finished_ns"] - run.header["process_started_ns"]) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not Path("/usr/sbin/sshd").exists():
        raise SystemExit("needs /usr/sbin/sshd (apt-get install openssh-server)")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        spec = load_catalog(REPO)["layer-fc-128-32"]
        build_workload(spec, root / "w" / "model.keras", root / "w" / "meta.json")
        record = convert_workload(root / "w", "tflite-fp32", root / "c" / "tflite-fp32.json")
        model = root / "c" / record["model_file"]
        board = Board(Keys(root / "ssh"), "loopback", 1, netns=False).start()
        board.trust()
        try:
            print(f"dispatch overhead per run (median of {args.runs}; first run warms up):")
            for reuse in (True, False):
                transport = SshTransport(board.profile(sys.executable, reuse_connection=reuse))
                one_run(transport, root / "stage", model)  # first push; opens the master
                runs = [one_run(transport, root / "stage", model) for _ in range(args.runs)]
                overhead = statistics.median(wall - agent for wall, agent in runs)
                wall = statistics.median(w for w, _ in runs)
                label = "with reuse   " if reuse else "without reuse"
                print(f"  {label}: {overhead:.3f} s overhead (wall {wall:.3f} s)")
        finally:
            board.stop()


if __name__ == "__main__":
    main()
