"""Interrupted workflows: a killed Snakemake leaves no agent that disturbs or spoils the rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import SNAKEMAKE

pytestmark = pytest.mark.integration

SUITE = {
    "workloads": ["layer-conv2d-f32-s1"],
    "formats": ["tflite-fp32", "onnx-fp32"],
    # target_ci 0: the run lasts min_s, long enough for the orphan to outlive the kill
    "timing": {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 10, "min_s": 40.0, "max_s": 60.0,
               "max_runs": 10**7, "target_ci": 0},
}  # fmt: skip


def agents(root) -> list[int]:
    """The agents running in this project's stages."""
    found = subprocess.run(["pgrep", "-f", "edgebench_agent job.json"], capture_output=True)
    pids = []
    for pid in found.stdout.split():
        try:
            if os.readlink(f"/proc/{int(pid)}/cwd").startswith(str(root)):
                pids.append(int(pid))
        except OSError:
            continue
    return pids


def test_a_killed_workflow_leaves_no_agent_in_the_way_of_the_rerun(project):
    project.write_yaml("config/suites/slow.yaml", SUITE)
    args = [str(SNAKEMAKE), "--cores", "2", "--config", "suite=slow"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = subprocess.Popen(args, cwd=project.root, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    stage = project.root / "results" / "stage" / "local"
    deadline = time.monotonic() + 240
    while not list(stage.glob("*/*/*/out/run.jsonl.part")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(stage.glob("*/*/*/out/run.jsonl.part")), "no run started"
    time.sleep(1.0)
    first.send_signal(signal.SIGKILL)  # the main process only: its job processes live on
    first.wait()
    orphans = agents(project.root)
    assert orphans, "expected the killed workflow's agent to be still running"

    project.snakemake("--unlock")
    quick = {**SUITE, "timing": {**SUITE["timing"], "min_s": 0.5, "max_s": 5.0}}
    project.write_yaml("config/suites/slow.yaml", quick)  # the rerun need not last as long
    project.snakemake("--config", "suite=slow")
    assert not [pid for pid in orphans if pid in agents(project.root)]
    logs = "".join(p.read_text() for p in (project.root / "results/logs/run").rglob("*.log"))
    assert "board lock: stopping an orphaned agent" in logs
    for log in (project.root / "results/raw/local/layer-conv2d-f32-s1").glob("*/run.jsonl"):
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert lines[-1]["status"] == "complete", lines[-1]
    assert project.planned_jobs("--config", "suite=slow") == {}
