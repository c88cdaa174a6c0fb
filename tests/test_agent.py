"""The device-side agent: timing protocol, raw log, batch sweep, atomic writes, dependencies."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from edgebench.agent.protocol import Timing, measure
from edgebench.convert.job import convert_workload
from edgebench.devices.staging import AGENT_PACKAGE, AGENT_SOURCE, stage_run
from edgebench.settings import load_catalog
from edgebench.testing.project import REPO
from edgebench.workloads.build import build_workload


def runtime_modules() -> set[str]:
    """Every vendor module an agent runtime may import (when a run needs it), as declared."""
    from edgebench.agent.runtimes import REGISTRY

    return {
        name.split(".")[0]
        for entry in REGISTRY.entries().values()
        for name in [*entry.modules, *entry.imports]
    }


RUNTIME_MODULES = runtime_modules()
ALLOWED_IMPORTS = set(sys.stdlib_module_names) | {"numpy"} | RUNTIME_MODULES


def imported_names(tree: ast.AST) -> list[tuple[ast.AST, str, int]]:
    """(node, module name, relative level) of every import and importlib/__import__ call."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node, alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node, node.module or "", node.level))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0], ast.Constant):
                found.append((node, str(node.args[0].value), 0))
    return found


def test_agent_imports_only_the_standard_library_numpy_and_runtimes():
    files = sorted(AGENT_SOURCE.rglob("*.py"))
    names = {p.relative_to(AGENT_SOURCE).as_posix() for p in files}
    assert names >= {"__init__.py", "__main__.py", "runner.py", "runtimes/__init__.py"}
    assert RUNTIME_MODULES >= {"ai_edge_litert", "onnxruntime", "tensorrt", "cuda", "pycoral"}
    for path in files:
        tree = ast.parse(path.read_text())
        depth = len(path.relative_to(AGENT_SOURCE).parts)  # 1 in the agent's folder
        for _, name, level in imported_names(tree):
            assert level <= depth, f"{path.name} imports from outside the agent package ({name})"
            if level == 0 and name:
                assert name.split(".")[0] in ALLOWED_IMPORTS, f"{path.name} imports {name}"
        # runtimes are imported when a run needs one, never when the module loads
        top_level = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        for _node, name, _ in imported_names(ast.Module(body=top_level, type_ignores=[])):
            assert name.split(".")[0] not in RUNTIME_MODULES, f"{path.name} imports {name}"


def test_the_staged_agent_loads_nothing_but_the_standard_library_and_numpy(tmp_path, fc_model):
    """The real property: the copy a board receives, imported alone, pulls in no host code."""
    stage_run(tmp_path, fc_model, agent_job(), None)
    probe = (
        "import sys; sys.path.insert(0, '.');"
        "import edgebench_agent.__main__, edgebench_agent.runner, edgebench_agent.boardlock;"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-S", "-c", f"import site; site.main(); {probe}"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    outside = set(loaded) - set(sys.stdlib_module_names) - {"numpy", "edgebench_agent"}
    outside = {name for name in outside if not name.startswith("_")}
    assert not outside, f"the agent loads {sorted(outside)}"
    assert not set(loaded) & (RUNTIME_MODULES | {"edgebench"})


def test_protocol_honours_minimum_runs_and_minimum_time():
    calls = []
    timing = Timing(warmup_runs=3, warmup_s=0.0, min_runs=7, min_s=0.05, max_s=5.0)
    result = measure(lambda: calls.append(time.sleep(0.001)), timing)
    assert result.warmup_runs == 3
    assert len(result.ends) >= 7
    assert result.ends[-1] - result.starts[0] >= 0.05e9
    assert len(calls) == 1 + 3 + len(result.ends)  # first inference, warm-up, timed: apart
    assert all(e - s >= 1_000_000 for s, e in zip(result.starts, result.ends, strict=True))


def test_protocol_stops_at_max_time_and_max_runs():
    slow = measure(lambda: time.sleep(0.01), Timing(0, 0.0, 1000, 0.0, 0.1))
    assert len(slow.ends) < 20
    capped = measure(lambda: None, Timing(0, 0.0, 1, 10.0, 10.0, max_runs=50))
    assert len(capped.ends) == 50
    assert slow.stopped_by == "max_s" and capped.stopped_by == "max_runs"  # before min_s: said
    enough = measure(lambda: None, Timing(0, 0.0, 5, 0.0, 10.0, target_ci=0))
    assert enough.stopped_by == "min_reached" and len(enough.ends) == 5


def test_a_power_window_cut_by_max_runs_is_held_open_untimed_to_min_s():
    """A microsecond block reaches max_runs long before a meter's min_s: with a power source
    the runtime goes on untimed until min_s, those runs counted but never timed."""
    calls = []
    timing = Timing(0, 0.0, 1, 0.3, 10.0, max_runs=50)
    started = time.monotonic_ns()
    held = measure(lambda: calls.append(1), timing, hold_min_s=True)
    assert len(held.ends) == 50 and held.stopped_by == "max_runs"
    assert held.held_runs > 0 and len(calls) == 1 + 50 + held.held_runs  # + first inference
    assert held.ends[-1] + held.held_ns - started >= 0.3 * 1e9
    plain = measure(lambda: None, timing)
    assert plain.held_runs == 0 and plain.held_ns == 0


def test_adaptive_stopping_ends_a_stable_run_early_and_a_drifting_one_at_max_s():
    stable = measure(lambda: time.sleep(0.0005), Timing(0, 0.0, 20, 0.0, 20.0, target_ci=0.02))
    assert stable.stopped_by == "target_ci"
    assert stable.ends[-1] - stable.starts[0] < 10e9
    calls = []

    def drifting():  # each call 2% slower than the last: the median never settles
        calls.append(None)
        time.sleep(0.0002 * 1.02 ** len(calls))

    drift = measure(drifting, Timing(0, 0.0, 20, 0.0, 1.0, target_ci=0.01))
    assert drift.stopped_by == "max_s"


def test_unknown_or_contradicting_timing_settings_are_refused():
    with pytest.raises(ValueError, match="min_sec"):
        Timing.from_dict({"min_sec": 1})
    assert Timing(min_s=5, max_s=1).problems() == ["min_s (5) is larger than max_s (1)"]


@pytest.fixture(scope="module")
def fc_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc")
    spec = load_catalog(REPO)["layer-fc-128-32"]
    build_workload(spec, root / "w" / "model.keras", root / "w" / "meta.json")
    record = convert_workload(root / "w", "tflite-fp32", root / "c" / "tflite-fp32.json")
    return root / "c" / record["model_file"]


def agent_job(**overrides):
    job = {
        "device": "local",
        "workload": "layer-fc-128-32",
        "format": "tflite-fp32",
        "runtime_family": "tflite",
        "batch_sizes": [1, 2],
        "timing": {"warmup_runs": 2, "warmup_s": 0.0, "min_runs": 10, "min_s": 0.0, "max_s": 2},
        "threads": 1,
        "seed": 0,
        "input_range": [-1.0, 1.0],
    }
    return {**job, **overrides}


def run_agent(stage: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", AGENT_PACKAGE, "job.json"], cwd=stage, capture_output=True, text=True
    )


def records(stage: Path) -> list[dict]:
    return [json.loads(line) for line in (stage / "out" / "run.jsonl").read_text().splitlines()]


def test_raw_log_has_header_samples_batches_and_end(tmp_path, fc_model):
    stage_run(tmp_path, fc_model, agent_job(), None)
    assert run_agent(tmp_path).returncode == 0
    log = records(tmp_path)
    header, end = log[0], log[-1]
    assert header["type"] == "header" and header["runtime"]["name"] in (
        "ai_edge_litert",
        "tflite_runtime",
    )
    assert (
        header["facts"]["cpu_count"] >= 1
        and header["threads"] == 1
        and len(header["model"]["sha256"]) == 64
    )
    assert end == {**end, "type": "end", "status": "complete"}
    batches = [r for r in log if r["type"] == "batch"]
    assert [b["batch"] for b in batches] == [1, 2] and all(b["status"] == "ok" for b in batches)
    for batch in batches:
        samples = [r for r in log if r["type"] == "sample" and r["batch"] == batch["batch"]]
        assert len(samples) == batch["runs"] >= 10
        assert all(s["end_ns"] > s["start_ns"] for s in samples)
        assert batch["load_ns"] > 0 and batch["first_ns"] > 0 and batch["peak_rss_kb"] > 0


def test_every_runtime_gets_the_devices_core_count_unless_configured(tmp_path, fc_model):
    onnx_record = convert_workload(
        fc_model.parents[1] / "w", "onnx-fp32", fc_model.parent / "onnx-fp32.json"
    )
    onnx_model = fc_model.parent / onnx_record["model_file"]
    cores = len(os.sched_getaffinity(0))
    for model, fmt, runtime in [
        (fc_model, "tflite-fp32", "tflite"),
        (onnx_model, "onnx-fp32", "onnx"),
    ]:
        stage = tmp_path / fmt
        stage_run(stage, model, agent_job(format=fmt, runtime_family=runtime, threads=None), None)
        assert run_agent(stage).returncode == 0
        header = records(stage)[0]
        assert header["threads"] == cores and header["threads_from"] == "device cores"
    configured = tmp_path / "configured"
    stage_run(
        configured,
        onnx_model,
        agent_job(format="onnx-fp32", runtime_family="onnx", threads=1),
        None,
    )
    assert run_agent(configured).returncode == 0
    assert records(configured)[0]["threads"] == 1
    assert records(configured)[0]["threads_from"] == "config"


def test_batch_sweep_stops_at_the_first_batch_that_does_not_fit(tmp_path, fc_model):
    too_big = 2**30  # 2^30 x 128 float32 inputs = 512 GiB: fits in no test machine
    stage_run(tmp_path, fc_model, agent_job(batch_sizes=[1, 2, too_big, 4]), None)
    assert run_agent(tmp_path).returncode == 0
    batches = [r for r in records(tmp_path) if r["type"] == "batch"]
    assert [(b["batch"], b["status"]) for b in batches] == [
        (1, "ok"),
        (2, "ok"),
        (too_big, "failed"),
    ]
    assert batches[-1]["reason"]
    assert records(tmp_path)[-1]["status"] == "complete"


def test_format_without_a_runtime_on_the_device_is_unsupported(tmp_path, fc_model):
    stage_run(
        tmp_path, fc_model, agent_job(runtime_family="tensorrt", format="tensorrt-fp16"), None
    )
    assert run_agent(tmp_path).returncode == 0
    end = records(tmp_path)[-1]
    assert end["status"] == "unsupported" and "tensorrt" in end["reason"]


def test_accuracy_pass_returns_one_output_per_input(tmp_path, fc_model):
    inputs = np.random.default_rng(1).uniform(-1, 1, (17, 128)).astype(np.float32)
    stage_run(tmp_path, fc_model, agent_job(batch_sizes=[1]), inputs)
    assert run_agent(tmp_path).returncode == 0
    with np.load(tmp_path / "out" / "accuracy.npz") as data:
        assert data["outputs"].shape == (17, 32)
    assert [r for r in records(tmp_path) if r["type"] == "accuracy"][0]["samples"] == 17


def test_killed_run_leaves_no_log_that_looks_complete(tmp_path, fc_model):
    long_run = {
        "warmup_runs": 0,
        "warmup_s": 0.0,
        "min_runs": 1,
        "min_s": 60.0,
        "max_s": 60.0,
        "max_runs": 10**9,
    }
    stage_run(tmp_path, fc_model, agent_job(timing=long_run), None)
    process = subprocess.Popen([sys.executable, "-m", AGENT_PACKAGE, "job.json"], cwd=tmp_path)
    partial = tmp_path / "out" / "run.jsonl.part"
    deadline = time.monotonic() + 30
    while not partial.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the timed loop
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert partial.exists(), "the agent should have been writing its log"
    assert not (tmp_path / "out" / "run.jsonl").exists()


def test_the_board_lock_stops_an_orphan_of_this_project_and_waits_for_others(tmp_path, fc_model):
    from edgebench.agent.boardlock import BoardBusy, hold

    lock = tmp_path / "board.lock"
    slow = {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 1, "min_s": 60.0, "max_s": 90.0,
            "max_runs": 10**9}  # fmt: skip
    mine = {"host": "this-host", "project": "/this/project"}
    stage = tmp_path / "orphan"
    stage_run(stage, fc_model, agent_job(timing=slow, board_lock=str(lock), owner=mine), None)
    orphan = subprocess.Popen([sys.executable, "-m", AGENT_PACKAGE, "job.json"], cwd=stage)
    try:
        deadline = time.monotonic() + 30
        while not (stage / "out" / "run.jsonl.part").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        other = {"device": "x", "owner": {"host": "another-host", "project": "/p"}}
        with pytest.raises(BoardBusy, match="layer-fc-128-32"):
            hold(str(lock), other, wait_s=1, say=lambda line: None)
        assert orphan.poll() is None  # another project's agent is never stopped
        said = []
        handle = hold(str(lock), {"device": "local", "owner": mine}, wait_s=30, say=said.append)
        assert orphan.wait(timeout=15) == -signal.SIGTERM
        assert "stopping an orphaned agent" in said[0]
        handle.close()
    finally:
        orphan.kill()


def test_a_lock_held_by_a_process_that_is_not_an_agent_is_waited_for_until_the_deadline(
    tmp_path,
):
    """The holder recorded is of this project, but its pid is no agent (a process it left
    holding the lock): nothing to stop, so the wait goes on to its deadline, noted once."""
    from edgebench.agent.boardlock import BoardBusy, hold

    lock = tmp_path / "board.lock"
    mine = {"host": "this-host", "project": "/this/project"}
    holding = (
        "import fcntl, json, os, sys, time\n"
        "f = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
        "f.write(json.dumps({'pid': os.getpid(), 'owner': json.loads(sys.argv[2])})); f.flush()\n"
        "print('held', flush=True); time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holding, str(lock), json.dumps(mine)], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        said, outcome = [], []

        def wait() -> None:
            try:
                hold(str(lock), {"device": "local", "owner": mine}, wait_s=2, say=said.append)
            except BoardBusy as error:
                outcome.append(error)

        waiting = threading.Thread(target=wait, daemon=True)
        waiting.start()
        waiting.join(timeout=120)
        assert not waiting.is_alive(), f"hold() never returned ({len(said)} lines said)"
        assert outcome and "busy" in str(outcome[0])
        assert len(said) == 1 and "no longer an edgebench agent" in said[0]
        assert holder.poll() is None  # never signalled
    finally:
        holder.kill()


def test_the_agents_raw_format_version_is_the_one_the_host_reads():
    from edgebench import rawlog
    from edgebench.agent import runlog

    assert runlog.FORMAT_VERSION == rawlog.FORMAT_VERSION
    assert rawlog.FORMAT_VERSION in rawlog.READABLE_VERSIONS


def test_header_and_end_place_the_run_on_the_wall_clock(tmp_path, fc_model):
    stage_run(tmp_path, fc_model, agent_job(), None)
    assert run_agent(tmp_path).returncode == 0
    log = records(tmp_path)
    start, end = log[0]["wall_clock"], log[-1]["wall_clock"]
    assert 0 <= start["uncertainty_ns"] < 10_000_000
    # the two clocks advance together between the anchors (within the readings' spread)
    wall_elapsed = end["time_ns"] - start["time_ns"]
    monotonic_elapsed = end["monotonic_ns"] - start["monotonic_ns"]
    assert abs(wall_elapsed - monotonic_elapsed) < 50_000_000
    first_sample = next(r for r in log if r["type"] == "sample")
    assert start["monotonic_ns"] <= first_sample["start_ns"] <= end["monotonic_ns"]


def test_the_profiles_runtime_module_is_the_one_used_and_recorded(tmp_path, fc_model):
    chosen = tmp_path / "chosen"
    stage_run(chosen, fc_model, agent_job(runtime_module="ai_edge_litert"), None)
    assert run_agent(chosen).returncode == 0
    runtime = records(chosen)[0]["runtime"]
    assert runtime["name"] == runtime["requested"] == "ai_edge_litert"
    absent = tmp_path / "absent"  # tflite_runtime is not installed here
    stage_run(absent, fc_model, agent_job(runtime_module="tflite_runtime"), None)
    assert run_agent(absent).returncode == 0
    end = records(absent)[-1]
    assert end["status"] == "unsupported" and "tflite_runtime" in end["reason"]


def test_every_file_the_device_wrote_comes_back_verified(tmp_path, fc_model):
    from edgebench.devices.dispatch import keep_results
    from edgebench.fileio import sha256_file

    stage = tmp_path / "stage"
    inputs = np.random.default_rng(1).uniform(-1, 1, (3, 128)).astype(np.float32)
    stage_run(stage, fc_model, agent_job(batch_sizes=[1]), inputs)
    assert run_agent(stage).returncode == 0
    out, raw = stage / "out", tmp_path / "raw" / "run.jsonl"
    end = records(stage)[-1]
    assert end["files"] == {"accuracy.npz": sha256_file(out / "accuracy.npz")}
    model_hash = records(stage)[0]["model"]["sha256"]
    assert keep_results(out, raw, model_hash) == "complete"
    assert sorted(p.name for p in raw.parent.iterdir()) == ["accuracy.npz", "run.jsonl"]
    (out / "stray.csv").write_text("not written by the run\n")
    with pytest.raises(RuntimeError, match="stray.csv"):
        keep_results(out, tmp_path / "again" / "run.jsonl", model_hash)


def test_a_model_of_several_files_is_staged_under_one_stem(tmp_path):
    xml, weights = tmp_path / "openvino-fp32.xml", tmp_path / "openvino-fp32.bin"
    xml.write_text("<net/>")
    weights.write_bytes(b"\0" * 8)
    stage = tmp_path / "stage"
    stage_run(
        stage, xml, agent_job(format="openvino-fp32", runtime_family="openvino"), None, [weights]
    )
    assert json.loads((stage / "job.json").read_text())["model"] == "model.xml"
    assert (stage / "model.bin").read_bytes() == weights.read_bytes()


def test_a_batch_is_timed_in_several_fresh_processes_kept_apart(tmp_path, fc_model):
    from edgebench import rawlog
    from edgebench.metrics.tables import batch_columns
    from edgebench.rawlog import read_run

    stage_run(tmp_path, fc_model, agent_job(batch_sizes=[1, 2], processes=3), None)
    assert run_agent(tmp_path).returncode == 0
    log = records(tmp_path)
    assert log[0]["processes"] == 3 and log[0]["format_version"] == rawlog.FORMAT_VERSION
    for batch in (1, 2):
        merged = next(r for r in log if r["type"] == "batch" and r["batch"] == batch)
        assert [p["process"] for p in merged["processes"]] == [0, 1, 2]
        samples = [r for r in log if r["type"] == "sample" and r["batch"] == batch]
        assert {s["process"] for s in samples} == {0, 1, 2}
        assert merged["runs"] == len(samples) == sum(p["runs"] for p in merged["processes"])
    assert not list((tmp_path / "out").glob(".process-*"))  # merged, then removed
    run = read_run(tmp_path / "out" / "run.jsonl")
    per_process = run.processes[1]
    columns = batch_columns(run.batches[0], run.samples[1], run.header["timing"], per_process)
    medians = [float(np.median(v)) for v in per_process.values()]
    assert columns["latency_process_spread"] == pytest.approx(max(medians) / min(medians))


def test_a_wide_process_spread_makes_a_run_unstable_and_says_why():
    from edgebench.metrics.tables import batch_columns

    steady = np.full(50, 1_000_000, dtype=np.int64)
    record = {"batch": 1, "status": "ok", "runs": 100}
    apart = {0: steady, 1: steady * 11 // 10}  # the second process 10% slower
    columns = batch_columns(record, np.concatenate([steady, steady]), {}, apart)
    assert columns["unstable"] and columns["unstable_reason"] == "process_spread"
    close = {0: steady, 1: steady * 102 // 100}
    assert not batch_columns(record, np.concatenate([steady, steady]), {}, close)["unstable"]


def test_the_board_probe_finds_a_missing_runtime_before_the_model_is_shipped():
    from edgebench.devices.dispatch import probe_runtime
    from edgebench.devices.local import LocalTransport

    transport = LocalTransport({"name": "local"})
    job = {"device": "local", "runtime_family": "tflite", "runtime_module": None}
    assert probe_runtime(transport, job) is None  # ai_edge_litert imports here
    reason = probe_runtime(transport, {**job, "runtime_family": "tensorrt"})
    assert "no tensorrt runtime" in reason and "pip install tensorrt" in reason
    asked = probe_runtime(transport, {**job, "runtime_module": "tflite_runtime"})
    assert "none of tflite_runtime imports" in asked  # the profile's module, not any


def test_only_the_writer_builds_run_log_records():
    """Every record that reaches run.jsonl comes from edgebench.agent.runlog (issue 22)."""
    import re

    package = Path(__file__).resolve().parents[1] / "workflow" / "edgebench"
    allowed = {package / "agent" / "runlog.py", package / "agent" / "powerlog.py"}
    literal = re.compile(r'"type":\s*"(header|sample|batch|accuracy|end)"')
    builders = [
        f"{path.relative_to(package)}:{number}"
        for path in sorted(package.rglob("*.py"))
        if path not in allowed
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if literal.search(line)
    ]
    assert builders == []


def test_a_budget_shares_its_seconds_among_the_processes_and_says_it_stopped_there():
    """budget_s bounds one batch size over its processes: each window stops at its equal
    share where that comes before max_s (never before min_s), with stopped_by 'budget'."""
    calls = []

    def drifting():  # each call slower than the last: the median never reaches target_ci
        calls.append(None)
        time.sleep(0.0002 * 1.02 ** min(len(calls), 200))

    timing = Timing(0, 0.0, 20, 0.05, 5.0, target_ci=0.001, processes=4, budget_s=0.8)
    assert timing.window_cap() == (0.2, "budget")
    spent = measure(drifting, timing)
    assert spent.stopped_by == "budget"
    assert 0.2e9 <= spent.ends[-1] - spent.starts[0] < 5e9
    # a share below min_s waits for min_s; a share at or above max_s leaves max_s in charge
    assert Timing(min_s=0.5, processes=4, budget_s=0.8).window_cap() == (0.5, "budget")
    assert Timing(max_s=1.0, processes=2, budget_s=4.0).window_cap() == (1.0, "max_s")
    assert Timing().window_cap() == (10.0, "max_s")  # no budget (0): max_s as before


def test_a_batch_of_processes_says_budget_when_any_process_stopped_at_it():
    from edgebench.agent.runner import merged_batch

    records = [
        {"status": "ok", "runs": 10, "stopped_by": "budget", "process": 0},
        {"status": "ok", "runs": 10, "stopped_by": "target_ci", "process": 1},
    ]
    merged = merged_batch(1, records)
    assert merged["stopped_by"] == "budget"
    assert [p["stopped_by"] for p in merged["processes"]] == ["budget", "target_ci"]
    records[0]["stopped_by"] = "target_ci"
    assert merged_batch(1, records)["stopped_by"] == "target_ci"
