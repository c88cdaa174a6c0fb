"""The interleaved schedule: one job per device x workload times its formats in rounds, the order
alternating, one raw log per format; paired speed-ups in the table; what is refused at load."""

from __future__ import annotations

import json
import os
import pty
import shutil
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import Project, need
from edgebench.agent.interleave import round_order
from edgebench.preflight import check_plan
from edgebench.settings import ConfigError, load_plan
from edgebench.settings.plan import validate_config
from edgebench.testing.boards import Board, Keys

FORMATS = ["tflite-fp32", "tflite-int8"]
WORKLOAD = "layer-fc-128-32"
SUITE = {
    "description": "interleaved test suite",
    "weights": "random",
    "workloads": [WORKLOAD],
    "formats": FORMATS,
    "calibration_samples": 8,
    "batch_sizes": [1],
    "schedule": "interleaved",
    "speedup_reference": "tflite-fp32",
    # short windows, 2 rounds
    "timing": {"warmup_runs": 2, "warmup_s": 0.0, "min_runs": 20, "min_s": 0.02, "max_s": 0.2,
               "target_ci": 0, "processes": 2},
}  # fmt: skip


def records(project, fmt: str) -> list[dict]:
    path = project.root / f"results/raw/local/{WORKLOAD}/{fmt}/run.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def interleaved(tmp_path_factory):
    project = Project(tmp_path_factory.mktemp("interleaved") / "project")
    project.write_yaml("config/suites/tiny.yaml", SUITE)
    project.write_yaml(
        "config/config.yaml", {"devices": ["local"], "suite": "tiny", "containers": "none"}
    )
    project.snakemake()
    return project


@pytest.mark.integration
def test_one_job_writes_one_raw_log_per_format_with_the_group_in_each_header(interleaved):
    log = interleaved.root / f"results/logs/run/local/{WORKLOAD}/interleaved.log"
    assert "tflite-fp32 complete, tflite-int8 complete" in log.read_text()
    headers = [records(interleaved, fmt)[0] for fmt in FORMATS]
    for fmt, header in zip(FORMATS, headers, strict=True):
        assert header["format"] == fmt
        schedule = header["schedule"]
        assert schedule["name"] == "interleaved" and schedule["formats"] == FORMATS
        assert schedule["rounds"] == 2 and schedule["order"] == "alternating"
        assert schedule["reference"] == "tflite-fp32"
    assert headers[0]["schedule"]["group"] == headers[1]["schedule"]["group"]
    assert not interleaved.planned_jobs()  # complete: nothing left to do


@pytest.mark.integration
def test_rounds_alternate_the_order_and_keep_the_round_as_process_index(interleaved):
    starts = {}  # (format, round) -> first sample's start (one monotonic clock: one machine)
    for fmt in FORMATS:
        samples = [r for r in records(interleaved, fmt) if r["type"] == "sample"]
        assert {s["process"] for s in samples} == {0, 1}
        for sample in samples:
            key = (fmt, sample["process"])
            starts[key] = min(starts.get(key, sample["start_ns"]), sample["start_ns"])
        batch = next(r for r in records(interleaved, fmt) if r["type"] == "batch")
        assert [p["process"] for p in batch["processes"]] == [0, 1]
    order = sorted(starts, key=starts.get)
    assert order == [
        ("tflite-fp32", 0),
        ("tflite-int8", 0),
        ("tflite-int8", 1),
        ("tflite-fp32", 1),
    ]


@pytest.mark.integration
def test_the_table_has_paired_speedups_against_the_reference(interleaved):
    table = pd.read_parquet(interleaved.root / "results/tables/results.parquet")
    rows = table.set_index("format")
    assert set(rows["status"]) == {"ok"}
    assert (rows["speedup_reference"] == "tflite-fp32").all()
    assert rows.loc["tflite-fp32", "speedup"] == 1.0
    int8 = rows.loc["tflite-int8"]
    assert int8["speedup"] > 0
    assert int8["speedup_ci_low"] <= int8["speedup"] <= int8["speedup_ci_high"]
    assert int8["speedup_ci_level"] == pytest.approx(0.5)  # 2 rounds: their range, 1 - 2/2^2
    assert not pd.isna(int8["latency_process_spread"])  # the rounds are its processes
    report = (interleaved.root / "results/report/index.html").read_text()
    assert "Paired speed-ups" in report


@pytest.mark.integration
def test_a_changed_format_remeasures_the_workloads_other_formats_too(interleaved):
    """The trade-off: the comparison is measured together, so one missing log reruns the
    group's one job, which rewrites every format's log."""
    path = interleaved.root / f"results/raw/local/{WORKLOAD}/tflite-int8/run.jsonl"
    kept = path.read_bytes()
    path.unlink()
    try:
        jobs = interleaved.planned_jobs()
        assert jobs.get("run_interleaved_local") == 1 and "run" not in jobs
    finally:
        path.write_bytes(kept)


def test_rounds_run_forward_then_backward():
    names = ["a", "b", "c"]
    assert [round_order(names, index) for index in range(3)] == [
        ["a", "b", "c"],
        ["c", "b", "a"],
        ["a", "b", "c"],
    ]


# --- refused at load ------------------------------------------------------------------------------


def checked(project, suite: dict, devices: str = "local"):
    suite = {key: value for key, value in suite.items() if value is not None}
    project.write_yaml("config/suites/tiny.yaml", suite)
    config = {"devices": devices, "suite": "tiny", "containers": "none"}
    validate_config(config, project.root)
    loaded = load_plan(config, root=project.root)
    check_plan(loaded)
    return loaded


def test_an_interleaved_suite_loads_with_its_reference_and_groups(project):
    loaded = checked(project, {k: v for k, v in SUITE.items() if k != "speedup_reference"})
    assert loaded.schedule == "interleaved"
    assert loaded.speedup_reference == "tflite-fp32"  # default: the first selected format
    assert loaded.interleaved_groups() == {"local": FORMATS}
    sequential = checked(project, {**SUITE, "schedule": "sequential", "speedup_reference": None})
    assert sequential.interleaved_groups() == {} and sequential.speedup_reference is None


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"schedule": "parallel"}, "'schedule' = 'parallel' is not one of sequential, interleaved"),
        (
            {"schedule": "sequential"},
            "'speedup_reference' = 'tflite-fp32' applies to schedule: interleaved only",
        ),
        ({"speedup_reference": "onnx-fp32"}, "'speedup_reference' = 'onnx-fp32' is not one of"),
        ({"speedup_reference": "Fp32"}, "'speedup_reference' = 'Fp32' is refused"),
    ],
)
def test_schedule_settings_that_change_nothing_or_cannot_work_are_refused(
    project, changes, expected
):
    with pytest.raises(ConfigError) as refused:
        checked(project, {**SUITE, **changes})
    assert expected in str(refused.value)


def test_interleaved_on_a_serial_board_is_refused_naming_the_fix(project):
    main, other = pty.openpty()
    board = {"name": "mcu", "transport": "serial", "port": os.ttyname(other)}
    project.write_yaml(
        "devices/mcu.yaml", {**board, "formats": FORMATS[1:], "power": {"source": "none"}}
    )
    try:
        with pytest.raises(ConfigError) as refused:
            checked(project, SUITE, devices="local,mcu")
    finally:
        os.close(main)
        os.close(other)
    message = str(refused.value)
    assert "schedule: interleaved cannot run on device 'mcu'" in message
    assert "schedule: sequential" in message and "--config devices=mcu" in message


@pytest.mark.integration
def test_the_refusal_stops_the_workflow_before_any_job(project):
    project.write_yaml("config/suites/tiny.yaml", {**SUITE, "schedule": "sequential"})
    result = project.snakemake("-n", "--config", "suite=tiny", check=False)
    assert result.returncode == 1
    assert "edgebench configuration error" in result.stderr
    assert "applies to schedule: interleaved only" in result.stderr


@pytest.mark.integration
def test_an_ssh_board_runs_the_interleaved_job_through_the_same_transport(tmp_path):
    """The transport interface is unchanged: the stage (agent once, formats/<format>/) is
    pushed, the group runs on the board and out/<format>/ comes back, against a real sshd."""
    need(Path("/usr/sbin/sshd").exists(), "needs Debian's openssh-server (/usr/sbin/sshd)")
    root = Path(tempfile.mkdtemp(prefix="ebt-ssh-"))
    root.chmod(0o755)
    board = Board(Keys(root / "keys"), "board-i", 7, netns=False).start()
    try:
        board.trust()
        project = Project(tmp_path / "project")
        project.write_yaml(f"devices/{board.name}.yaml", board.profile(sys.executable))
        project.write_yaml("config/suites/tiny.yaml", SUITE)
        project.snakemake("--config", "suite=tiny", f"devices={board.name}")
    finally:
        board.stop()
        shutil.rmtree(root, ignore_errors=True)
    starts, groups = {}, set()
    for fmt in FORMATS:
        path = project.root / f"results/raw/{board.name}/{WORKLOAD}/{fmt}/run.jsonl"
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert lines[-1]["status"] == "complete"
        assert lines[0]["host_clock"]["round_trip_ns"] > 0  # measured on the group's job file
        groups.add(lines[0]["schedule"]["group"])
        for sample in (r for r in lines if r["type"] == "sample"):
            key = (fmt, sample["process"])
            starts[key] = min(starts.get(key, sample["start_ns"]), sample["start_ns"])
    assert len(groups) == 1
    assert sorted(starts, key=starts.get) == [
        ("tflite-fp32", 0),
        ("tflite-int8", 0),
        ("tflite-int8", 1),
        ("tflite-fp32", 1),
    ]
    table = pd.read_parquet(project.root / "results/tables/results.parquet")
    assert table.set_index("format").loc["tflite-int8", "speedup"] > 0


@pytest.mark.integration
def test_a_format_that_did_not_convert_is_an_unsupported_log_and_the_others_still_run(
    interleaved, tmp_path
):
    from edgebench.devices.dispatch import job_settings, run_interleaved_on_device
    from edgebench.fileio import read_workload_meta
    from edgebench.rawlog import read_run
    from edgebench.settings.plan import load_device

    converted = interleaved.root / f"results/converted/{WORKLOAD}"
    conversions = {fmt: converted / f"{fmt}.json" for fmt in FORMATS}
    unsupported = json.loads(conversions["tflite-int8"].read_text())
    unsupported.update(status="unsupported", reason="a stand-in refusal")
    conversions["tflite-int8"] = tmp_path / "tflite-int8.json"
    conversions["tflite-int8"].write_text(json.dumps(unsupported))
    profile = load_device("local", interleaved.root)
    meta = read_workload_meta(interleaved.root / f"results/workloads/{WORKLOAD}/meta.json")
    jobs = {fmt: job_settings(profile, {**SUITE, "seed": 0}, meta, fmt) for fmt in FORMATS}
    raw_logs = {fmt: tmp_path / "raw" / fmt / "run.jsonl" for fmt in FORMATS}
    with open(tmp_path / "run.log", "w") as log:
        statuses = run_interleaved_on_device(
            profile, jobs, conversions, raw_logs, log, stage_root=tmp_path / "stage",
            reference="tflite-fp32",
        )  # fmt: skip
    assert statuses == {"tflite-int8": "unsupported", "tflite-fp32": "complete"}
    assert (
        read_run(raw_logs["tflite-int8"]).end["reason"]
        == "conversion unsupported: a stand-in refusal"
    )
    alone = read_run(raw_logs["tflite-fp32"])
    assert alone.header["schedule"]["formats"] == ["tflite-fp32"]
    assert set(alone.processes[1]) == {0, 1}
