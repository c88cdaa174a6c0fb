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
    # target_ci 0: the run lasts min_s, long enough for the orphan to outlive the kill and the
    # refused run after it (the rerun stops the orphan, so the test does not last as long)
    "timing": {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 10, "min_s": 150.0, "max_s": 180.0,
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

    # the lock the killed workflow left: named stale, with the command that clears it
    refused = project.snakemake("--config", "suite=slow", check=False)
    assert refused.returncode != 0
    assert "no Snakemake process on this machine runs in" in refused.stderr, refused.stderr
    assert "run `snakemake --unlock` once" in refused.stderr
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


# --- failures as a user meets them: one real run with a crashing agent and broken builders ------

BROKEN_BUILDERS = """
def broken(input_shape, classes, weights):
    raise ValueError("my builder is broken: no width given")


def forgetful(input_shape, classes, weights):
    import keras

    inputs = keras.Input(shape=tuple(input_shape))
    keras.Model(inputs, keras.layers.Dense(classes)(inputs))  # built, but not returned
"""
FAILING_SUITE = {
    "description": "failures",
    "weights": "random",
    "workloads": ["layer-fc-128-32", "broken-user", "forgetful-user"],
    "formats": ["tflite-fp32"],
    "calibration_samples": 8,
    "batch_sizes": [1],
    "timing": {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 10, "min_s": 0.05, "max_s": 1.0},
}


def test_failed_rows_fail_the_workflow_keep_the_rest_and_run_again(project, tmp_path):
    """A device whose agent crashes (its python exits 3) and two user builders that fail (one
    raises, one returns None): the workflow still runs every other row, writes the tables and
    report with each failure's own reason, exits non-zero, and the same command plans exactly
    the failed steps again."""
    import pandas as pd

    crashing = tmp_path / "python-crash"
    crashing.write_text("#!/bin/sh\nexit 3\n")
    crashing.chmod(0o755)
    profile = project.read_yaml("devices/local.yaml")
    project.write_yaml(
        "devices/crashy.yaml",
        dict(profile, name="crashy", python=str(crashing), formats=["tflite-fp32"]),
    )
    project.add_models(
        BROKEN_BUILDERS,
        {
            "broken-user": {"function": "broken", "input_shape": [8], "classes": 2},
            "forgetful-user": {"function": "forgetful", "input_shape": [8], "classes": 2},
        },
    )
    project.write_yaml("config/suites/failing.yaml", FAILING_SUITE)
    selection = ["--config", "suite=failing", "devices=local,crashy"]
    result = project.snakemake(*selection, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "AttributeError" not in output and "could not build tables" not in output
    table = pd.read_csv(project.root / "results/tables/results.csv")
    rows = table.set_index(["device", "workload"])
    assert rows.loc[("local", "layer-fc-128-32"), "status"] == "ok"
    crashed = rows.loc[("crashy", "layer-fc-128-32")]
    assert crashed.status == "failed" and "agent exited with code 3" in crashed.reason
    for device in ("local", "crashy"):
        broken = rows.loc[(device, "broken-user")]
        assert broken.status == "failed", broken.reason
        assert "ValueError: my builder is broken: no width given" in broken.reason
        forgetful = rows.loc[(device, "forgetful-user")]
        assert forgetful.status == "failed" and "returned NoneType" in forgetful.reason
        assert forgetful.group == "models"
    assert (project.root / "results/report/index.html").exists()
    assert "edgebench summary" in output and "crashy: 0 ok, 0 unsupported, 3 failed" in output
    # the same command again: the crashed run, the two builds and their 2 x 2 runs; not the
    # run that succeeded (local/layer-fc-128-32)
    jobs = project.planned_jobs(*selection)
    assert jobs.get("run") == 1 + 2 * 2 and jobs.get("build_workload") == 2, jobs
    assert "prepare_digits" not in jobs and jobs.get("convert") == 2


RIGID_BUILDER = '''
import keras


def rigid(input_shape, classes, weights):
    """Batch 1 only: the reshape fixes the batch dimension, so batch 2 fails in the runtime."""
    inputs = keras.Input(shape=tuple(input_shape))
    flat = keras.ops.reshape(inputs, (1, input_shape[0]))
    return keras.Model(inputs, keras.layers.Dense(classes)(flat))
'''


def test_a_failed_batch_in_a_complete_run_fails_the_exit_status_and_names_the_file(project):
    """Every job succeeds, but batch 2 of a model that only runs at batch 1 fails: the tables
    and report are written, the exit status is non-zero, and the message names the raw log to
    delete (a complete run's output exists, so the same command does not redo it, and fails
    again)."""
    import pandas as pd

    project.add_models(
        RIGID_BUILDER, {"rigid-user": {"function": "rigid", "input_shape": [8], "classes": 2}}
    )
    suite = dict(FAILING_SUITE, workloads=["rigid-user"], batch_sizes=[1, 2])
    project.write_yaml("config/suites/rigid.yaml", suite)
    result = project.snakemake("--config", "suite=rigid", check=False)
    assert result.returncode != 0, result.stdout + result.stderr
    table = pd.read_csv(project.root / "results/tables/results.csv").set_index("batch")
    assert table.loc[1, "status"] == "ok" and table.loc[2, "status"] == "failed", table.reason
    assert (project.root / "results/report/index.html").exists()
    assert "1 selected row(s) FAILED" in result.stderr, result.stderr
    assert "local/rigid-user/tflite-fp32 batch 2:" in result.stderr
    assert "rm results/raw/local/rigid-user/tflite-fp32/run.jsonl" in result.stderr
    # the same command again: only the check, which fails again
    assert project.planned_jobs("--config", "suite=rigid") == {"check_rows": 1, "all": 1}
    again = project.snakemake("--config", "suite=rigid", check=False)
    assert again.returncode != 0 and "1 selected row(s) FAILED" in again.stderr
