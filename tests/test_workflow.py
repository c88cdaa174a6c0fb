"""The real Snakemake workflow on a tiny suite: conversion, user models, rerun only what changed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import USER_MODEL

pytestmark = pytest.mark.integration


TINY_SUITE = {
    "description": "test suite",
    "weights": "random",
    "workloads": ["digits-cnn", "layer-fc-128-32", "tiny-user", "odd-user"],
    "formats": ["tflite-fp32", "tflite-int8", "onnx-fp32"],
    "calibration_samples": 8,
    "batch_sizes": [1, 2],
    "timing": {"warmup_runs": 2, "warmup_s": 0.0, "min_runs": 20, "min_s": 0.05, "max_s": 2.0},
}
RUNNABLE = 4 * 3  # the local device runs all three formats of all four workloads


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The tiny suite run once through conversion; tests below only dry-run against it."""
    from conftest import Project

    project = Project(tmp_path_factory.mktemp("wf") / "project")
    project.add_models(
        USER_MODEL,
        {
            "tiny-user": {"function": "tiny", "input_shape": [16, 16, 3], "classes": 5},
            "odd-user": {"function": "odd", "input_shape": [4, 4], "classes": 2},
        },
    )
    project.write_yaml("config/suites/tiny.yaml", TINY_SUITE)
    project.write_yaml(
        "config/config.yaml", {"devices": ["local"], "suite": "tiny", "containers": "none"}
    )
    project.snakemake("--cores", "8")  # more cores than the machine: runs must still serialise
    return project


def record(project, workload, fmt):
    return json.loads((project.root / f"results/converted/{workload}/{fmt}.json").read_text())


def test_every_conversion_is_recorded_and_the_dag_finishes(converted):
    for workload in TINY_SUITE["workloads"]:
        meta = json.loads((converted.root / f"results/workloads/{workload}/meta.json").read_text())
        assert meta["flops"] == 2 * meta["macs"] > 0
        assert meta["flops_counter"]["name"] and meta["flops_counter"]["version"]
        for fmt in TINY_SUITE["formats"]:
            assert record(converted, workload, fmt)["status"] in ("ok", "unsupported")
    assert record(converted, "digits-cnn", "tflite-int8")["calibration"]["source"] == "dataset"
    assert record(converted, "tiny-user", "tflite-int8")["calibration"]["source"] == "seeded-random"


def test_unsupported_conversion_is_a_row_with_the_converters_reason(converted):
    rejected = record(converted, "odd-user", "tflite-fp32")
    assert rejected["status"] == "unsupported" and "MatrixDeterminant" in rejected["reason"]
    assert record(converted, "odd-user", "onnx-fp32")["status"] == "ok"


def test_user_registered_model_is_built_and_converted(converted):
    meta = json.loads((converted.root / "results/workloads/tiny-user/meta.json").read_text())
    assert meta["family"] == "user" and meta["params"] == 3 * 3 * 3 * 8 + 8 + 8 * 5 + 5
    assert record(converted, "tiny-user", "onnx-fp32")["status"] == "ok"


def test_complete_run_has_nothing_left_to_do(converted):
    assert converted.planned_jobs() == {}


def test_every_measured_job_has_a_benchmark_and_the_report_sums_them(converted):
    """Snakemake's benchmark TSV of every build, conversion, reference, run and digest (and of
    the report, written after it); the report's cost table counts them all but its own."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    from edgebench import paths
    from edgebench.metrics import cost

    found = cost.job_costs(cost.found_jobs(converted.root), root=converted.root)
    assert found["status"].eq(cost.MEASURED).all() and found["s"].notna().all()
    rules = found["rule"].value_counts().to_dict()
    workloads, formats = TINY_SUITE["workloads"], TINY_SUITE["formats"]
    assert rules["build_workload"] == len(workloads)
    assert rules["convert"] == len(workloads) * len(formats)
    assert rules["run"] == RUNNABLE and rules["report_device"] == 1 and rules["report"] == 1
    assert rules["reference_outputs"] >= 1  # digits-cnn is scored against its reference
    page = (converted.root / paths.REPORT).read_text()
    provenance = page.split('id="provenance"', 1)[1]
    assert "Cost of this run" in provenance and 'id="cost-rule-table"' in provenance
    measured, jobs = map(int, re.search(r"(\d+) of (\d+) jobs measured", provenance).groups())
    assert measured == jobs - 1 == len(found) - 1  # all but the report's own
    assert cost.AFTER_PAGE in provenance and not re.search(r"\d+ jobs? without", provenance)
    script = Path(__file__).resolve().parents[1] / "benchmarks/run_cost.py"
    printed = subprocess.run(
        [sys.executable, str(script), "--project", str(converted.root)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{len(found)} jobs" in printed and "per format:" in printed


def test_deleted_tables_and_digests_come_back(converted):
    """Every published output is a target: deleting one plans the step that makes it."""
    import shutil

    results = converted.root / "results"
    kept = converted.root.parent / "kept"
    for folder in ("tables", "report/devices"):
        shutil.copytree(results / folder, kept / folder)
    try:
        shutil.rmtree(results / "tables")
        assert converted.planned_jobs() == {"tables": 1, "report": 1, "check_rows": 1, "all": 1}
        shutil.copytree(kept / "tables", results / "tables", copy_function=shutil.copy2)
        shutil.rmtree(results / "report/devices")
        jobs = {"report_device": 1, "report": 1, "check_rows": 1, "all": 1}
        assert converted.planned_jobs() == jobs
    finally:
        for folder in ("tables", "report/devices"):
            shutil.rmtree(results / folder, ignore_errors=True)
            shutil.copytree(kept / folder, results / folder, copy_function=shutil.copy2)
    assert converted.planned_jobs() == {}


def test_batch_sizes_rerun_the_models_only_and_the_seed_every_run(converted):
    """Blocks always run at batch 1: the suite's batch_sizes are no parameter of theirs. The
    seed draws every run's timing inputs (and the int8 calibration): every run again."""
    models = 3  # digits-cnn, tiny-user, odd-user; layer-fc-128-32 is a block
    try:
        converted.write_yaml("config/suites/tiny.yaml", dict(TINY_SUITE, batch_sizes=[1, 4]))
        assert converted.planned_jobs().get("run") == models * len(TINY_SUITE["formats"])
        converted.write_yaml("config/suites/tiny.yaml", dict(TINY_SUITE, seed=7))
        assert converted.planned_jobs().get("run") == RUNNABLE
    finally:
        converted.write_yaml("config/suites/tiny.yaml", TINY_SUITE)


def test_editing_a_device_profile_reruns_only_what_it_changes(converted):
    path = converted.root / "devices" / "local.yaml"
    original = path.read_text()
    try:
        # a description or a connection setting changes no measurement: no run again
        path.write_text(original.replace("embedded default", "default, edited"))
        assert "run" not in converted.planned_jobs() and "convert" not in converted.planned_jobs()
        # the thread count does: every run on the device again, nothing reconverted
        path.write_text(original + "threads: 1\n")
        assert converted.planned_jobs() == {
            "run": RUNNABLE,
            "tables": 1,
            "report_device": 1,
            "report": 1,
            "check_rows": 1,
            "all": 1,
        }
    finally:
        path.write_text(original)


def test_changing_one_blocks_config_reconverts_that_block_only(converted):
    path = converted.root / "config" / "blocks.yaml"
    original = path.read_text()
    blocks = yaml.safe_load(original)
    blocks["layer-fc-128-32"]["params"]["use_bias"] = False
    try:
        path.write_text(yaml.safe_dump(blocks, sort_keys=False))
        jobs = converted.planned_jobs()
        assert jobs.get("build_workload") == 1
        assert jobs.get("convert") == len(TINY_SUITE["formats"])
        assert jobs.get("run") == len(TINY_SUITE["formats"])
    finally:
        path.write_text(original)


def test_adding_a_format_converts_only_what_is_new(converted):
    suite = dict(TINY_SUITE, formats=[*TINY_SUITE["formats"], "tflite-fp16"])
    converted.write_yaml("config/suites/tiny.yaml", suite)
    try:
        jobs = converted.planned_jobs()
        assert jobs.get("convert") == len(TINY_SUITE["workloads"])
        assert "build_workload" not in jobs
    finally:
        converted.write_yaml("config/suites/tiny.yaml", TINY_SUITE)


def table(project):
    import pandas as pd

    return pd.read_csv(project.root / "results" / "tables" / "results.csv")


def test_tables_have_one_row_per_device_workload_format_batch(converted):
    rows = table(converted)
    ok = rows[rows.status == "ok"]
    models = ok[ok.workload.isin(["digits-cnn", "tiny-user"])]
    assert set(models.batch) == {1, 2}
    assert set(ok[ok.workload == "layer-fc-128-32"].batch) == {1}
    assert not rows.duplicated(["device", "workload", "format", "batch"]).any()
    assert (ok.throughput_ips > 0).all() and (ok.latency_ms_median > 0).all()
    assert np.allclose(ok.achieved_flops, ok.throughput_ips * ok.flops, rtol=1e-9)
    assert ok.power_w.isna().all() and ok.efficiency_ips_per_w.isna().all()
    unsupported = rows[(rows.workload == "odd-user") & (rows.format == "tflite-fp32")]
    assert list(unsupported.status) == ["unsupported"]
    assert "MatrixDeterminant" in unsupported.reason.iloc[0]
    # one row per unsupported TFLite format, one per batch size for ONNX
    assert (rows.workload == "odd-user").sum() == 1 + 1 + 2


def test_accuracy_of_the_digits_model_is_real(converted):
    rows = table(converted)
    digits = rows[(rows.workload == "digits-cnn") & (rows.batch == 1)].set_index("format")
    assert digits.loc["tflite-fp32", "accuracy_drop"] == 0
    assert digits.loc["tflite-fp32", "agreement"] == 1.0
    assert digits.loc["onnx-fp32", "accuracy_drop"] == 0
    int8 = digits.loc["tflite-int8"]
    assert 0.85 < int8.accuracy_top1 <= 1.0 and abs(int8.accuracy_drop) < 0.05
    assert np.isclose(int8.vips, int8.accuracy_top1 * int8.throughput_ips, rtol=1e-9)
    assert rows[rows.workload == "layer-fc-128-32"].accuracy_top1.isna().all()


def test_models_are_timed_in_three_fresh_processes_blocks_in_one(converted):
    raw = converted.root / "results/raw/local"
    model = [json.loads(x) for x in (raw / "digits-cnn/tflite-fp32/run.jsonl").open()]
    block = [json.loads(x) for x in (raw / "layer-fc-128-32/tflite-fp32/run.jsonl").open()]
    assert model[0]["processes"] == 3 and block[0]["processes"] == 1
    assert {r["process"] for r in model if r["type"] == "sample"} == {0, 1, 2}
    spread = table(converted).set_index(["workload", "format", "batch"])["latency_process_spread"]
    assert spread.loc[("digits-cnn", "tflite-fp32", 1)] >= 1.0
    assert (
        spread.loc[("layer-fc-128-32", "tflite-fp32", 1)]
        != spread.loc[("layer-fc-128-32", "tflite-fp32", 1)]
    )  # NaN: one process has no spread


def test_runs_on_one_device_never_overlap(converted):
    spans = []
    for log in (converted.root / "results" / "raw" / "local").glob("*/*/run.jsonl"):
        samples = [json.loads(x) for x in log.read_text().splitlines() if '"type":"sample"' in x]
        if samples:
            spans.append((min(s["start_ns"] for s in samples), max(s["end_ns"] for s in samples)))
    spans.sort()
    assert len(spans) >= 9
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert end < start, "two runs on the local device overlapped"


# --- results survive partial runs (these change the project: they come last) -----------------


def test_a_new_selection_is_planned_from_file_names_not_metadata(converted):
    """With mtime triggers only (as cluster users set, or .snakemake/ gone), a suite switch
    still plans the runs it needs: the plan is a file named by its digest."""
    converted.write_yaml(
        "config/suites/other.yaml",
        dict(TINY_SUITE, workloads=["layer-fc-128-32", "layer-fc-256-64"]),
    )
    jobs = converted.planned_jobs("--rerun-triggers", "mtime", "--config", "suite=other")
    assert jobs.get("build_workload") == 1  # layer-fc-256-64 only
    assert jobs.get("convert") == len(TINY_SUITE["formats"])
    assert jobs.get("run") == len(TINY_SUITE["formats"])
    assert jobs.get("plan_manifest") == 1 and jobs.get("tables") == 1


def test_a_subset_run_keeps_every_measured_row_in_the_table(converted):
    before = table(converted)
    converted.snakemake("--config", "workloads=layer-fc-128-32", "formats=tflite-fp32")
    after = table(converted)
    keys = ["device", "workload", "format", "batch"]
    assert len(after) == len(before)
    rows = sorted(after[keys].astype(str).itertuples(index=False, name=None))
    assert rows == sorted(before[keys].astype(str).itertuples(index=False, name=None))
    assert after.iloc[0]["workload"] == "layer-fc-128-32"  # the selection's rows come first


def test_a_failed_device_keeps_the_others_results_and_says_why(converted, tmp_path):
    """A board that cannot be driven (here: held by another project longer than lock_wait_s)
    fails its jobs; the tables and report still cover everything that completed, its rows say
    why, a summary is printed, and the next run retries only its runs."""
    from edgebench.agent.boardlock import hold
    from edgebench.devices.dispatch import board_lock_name
    from edgebench.devices.local import LocalTransport

    profile = converted.read_yaml("devices/local.yaml")
    converted.write_yaml(
        "devices/busy.yaml", dict(profile, name="busy", lock_wait_s=1, formats=["tflite-fp32"])
    )
    lock_path = LocalTransport(profile).board_lock(board_lock_name(profile))
    holder = {"device": "other", "workload": "w", "format": "f"}
    lock = hold(lock_path, {**holder, "owner": {"host": "elsewhere", "project": "/other"}}, 60)
    try:
        result = converted.snakemake("--config", "devices=local,busy", check=False)
    finally:
        lock.close()
    output = result.stdout + result.stderr
    assert result.returncode != 0
    rows = table(converted)
    busy = rows[(rows.device == "busy") & (rows.format == "tflite-fp32")]
    assert len(busy) == len(TINY_SUITE["workloads"]) and (busy.status != "ok").all()
    ran = busy[busy.status == "failed"]
    assert ran.reason.str.contains("board is busy with run other/w/f").all()
    assert (rows[rows.device == "local"].status == "ok").sum() > 0
    assert (converted.root / "results/report/index.html").exists()
    assert "edgebench summary" in output and "busy:" in output and "failed" in output
    jobs = converted.planned_jobs("--config", "devices=local,busy")
    assert jobs.get("run") == len(ran) and "convert" not in jobs


def plant_a_faster_baseline(log, factor: int, threads: int) -> None:
    """Rewrite a raw log as a baseline whose every timed sample took 1/factor as long and
    whose header says `threads`: a slowdown planted in the data, not asked of the CPU."""
    lines = []
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry["type"] == "header":
            entry["threads"] = threads
        elif entry["type"] == "sample":
            took = entry["end_ns"] - entry["start_ns"]
            entry["end_ns"] = entry["start_ns"] + max(1, took // factor)
        lines.append(json.dumps(entry, separators=(",", ":")))
    log.write_text("\n".join(lines) + "\n")


def test_a_slowed_runtime_is_reported_slower_against_the_baseline(converted, tmp_path):
    """A real run of one model with 1 thread; the baseline is a copy of these results in which
    that run's samples were 10 times as fast and its header said 2 threads (whether 2 threads
    ARE faster is the machine's business, for benchmarks/, not a test's). Run again with
    --config baseline=, the report's section calls the model slower, regressed and its thread
    count different, and `edgebench compare` says so too (exit 1); the results against
    themselves show no change (exit 0)."""
    import shutil
    import subprocess
    import sys

    edgebench = [sys.executable, "-m", "edgebench.compare"]
    profile = converted.read_yaml("devices/local.yaml")
    selection = ["workloads=digits-cnn", "formats=tflite-fp32"]
    before = tmp_path / "before"
    try:
        converted.write_yaml("devices/local.yaml", dict(profile, threads=1))
        converted.snakemake("--config", *selection)
        shutil.copytree(converted.root / "results", before)
        raw = "raw/local/digits-cnn/tflite-fp32/run.jsonl"
        assert json.loads((before / raw).open().readline())["threads"] == 1  # the profile's
        plant_a_faster_baseline(before / raw, factor=10, threads=2)
        jobs = converted.planned_jobs("--config", *selection, f"baseline={before}")
        assert jobs == {"report": 1, "check_rows": 1, "all": 1}  # a new baseline: a new report
        converted.snakemake("--config", *selection, f"baseline={before}")
    finally:
        converted.write_yaml("devices/local.yaml", profile)
    page = (converted.root / "results/report/index.html").read_text()
    section = page[page.index('id="baseline"') :]
    section = section[: section.index("</section>")]
    slowed = [row for row in section.split("<tr>") if "digits-cnn" in row and "tflite-fp32" in row]
    assert len(slowed) == len(TINY_SUITE["batch_sizes"])
    assert all("slower" in row and "regressed" in row for row in slowed)
    assert "threads differs (2 -&gt; 1)" in slowed[0]
    others = [row for row in section.split("<tr>")[2:] if row not in slowed]
    assert others and not any("slower" in row or "faster" in row for row in others)

    results = str(converted.root / "results")
    compared = subprocess.run([*edgebench, "compare", str(before), results], capture_output=True)
    assert compared.returncode == 1, compared.stdout.decode() + compared.stderr.decode()
    same = subprocess.run([*edgebench, "compare", results, results], capture_output=True)
    assert same.returncode == 0 and b"nothing regressed" in same.stdout


def test_power_from_a_host_meter_and_an_on_board_tegrastats_fills_the_tables(converted, tmp_path):
    """Two profiles of this machine: one read by a command meter on the host (2.5 W), one by
    tegrastats on the board (the emulator, VDD_IN 4.0-4.9 W). Power, idle power, energy per
    inference and efficiency come from their logs; the report draws the traces."""
    import sys
    from pathlib import Path

    from edgebench.testing.meters import command_meter_argv

    # Both print every 10 ms while their profiles declare 50 ms (which sizes the windows):
    # five times the samples a window needs, so a loaded machine's late lines cost none.
    emulator = Path(__file__).with_name("tegrastats_emulator.py")
    wrapper = tmp_path / "tegrastats"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{emulator}" "$@" --interval 10\n')
    wrapper.chmod(0o755)
    profile = converted.read_yaml("devices/local.yaml")
    common = {"idle_s": 0.6, "interval_ms": 50}
    meter = {"source": "command", "command": command_meter_argv(2.5, 0.01), **common}
    board = {"source": "tegrastats", "command": str(wrapper), **common}
    for name, power in (("metered", meter), ("tegra", board)):
        converted.write_yaml(
            f"devices/{name}.yaml", dict(profile, name=name, formats=["tflite-fp32"], power=power)
        )
    converted.snakemake(
        "--config", "devices=metered,tegra", "workloads=digits-cnn", "formats=tflite-fp32"
    )
    rows = table(converted).set_index(["device", "workload", "format", "batch"])
    for device, low, high in (("metered", 2.5, 2.5), ("tegra", 4.0, 4.9)):
        for batch in TINY_SUITE["batch_sizes"]:
            row = rows.loc[(device, "digits-cnn", "tflite-fp32", batch)]
            assert low * 0.999 <= row.power_w <= high * 1.001, row.power_note
            assert low * 0.999 <= row.idle_power_w <= high * 1.001, row.power_note
            assert row.power_samples >= 3 * 10  # three processes, ten samples each at least
            inferences = (row.runs + row.held_runs) * batch  # held: untimed, in the window
            expected = row.power_energy_j / inferences * 1000
            assert row.energy_per_inference_mj == pytest.approx(expected)
            assert row.efficiency_ips_per_w == pytest.approx(row.throughput_ips / row.power_w)
            assert row.power_source == device.replace("metered", "command").replace(
                "tegra", "tegrastats"
            )
    local = rows.loc[("local", "digits-cnn", "tflite-fp32", 1)]  # devices/local.yaml: rapl
    assert local.power_w > 0 or "RAPL" in local.power_note  # measured, or why not
    header = json.loads(
        (converted.root / "results/raw/tegra/digits-cnn/tflite-fp32/run.jsonl").open().readline()
    )
    assert header["timing"]["min_s"] >= 0.55  # lengthened to hold 10 samples at 50 ms
    page = (converted.root / "results/report/index.html").read_text()
    assert 'data-chart="power-trace-0"' in page and 'data-chart="power-trace-1"' in page


def test_a_um25c_meter_on_a_real_pseudo_terminal_gives_a_block_its_power(converted):
    """The UM25C emulator answers 0xF0 polls with 130-byte frames at the meter's own 2 Hz, on
    a real pty that the workflow's run step opens; its power (a steady 1.8 W) reaches the
    table through meter.jsonl, and the window was lengthened to hold min_samples readings."""
    from edgebench.testing.meters import UmEmulator

    profile = converted.read_yaml("devices/local.yaml")
    with UmEmulator("um25c", power=lambda t: 1.8) as meter:
        power = {"source": "um25c", "port": meter.port, "min_samples": 3, "idle_s": 1.5}
        converted.write_yaml(
            "devices/usb.yaml", dict(profile, name="usb", formats=["tflite-fp32"], power=power)
        )
        converted.snakemake(
            "--config", "devices=usb", "workloads=layer-fc-128-32", "formats=tflite-fp32"
        )
        assert meter.requests >= 6
    rows = table(converted)
    (row,) = rows[rows.device.eq("usb")].itertuples()
    assert row.power_w == pytest.approx(1.8, rel=1e-3), row.power_note
    assert row.idle_power_w == pytest.approx(1.8, rel=1e-3)
    assert row.power_samples >= 3 and row.power_source == "um25c"
    raw = converted.root / "results/raw/usb/layer-fc-128-32/tflite-fp32"
    header = json.loads((raw / "run.jsonl").open().readline())
    assert header["timing"]["min_s"] >= 2.0  # (3 + 1) readings at 0.5 s
    end = json.loads((raw / "meter.jsonl").read_text().splitlines()[-1])
    assert end["status"] == "ok" and end["final"]["model"] == "UM25C"


def test_openvino_and_onnx_runtime_providers_run_through_the_dag_with_accuracy(converted):
    """OpenVINO IR (float32 and NNCF int8) on this CPU, accuracy pass included; an ONNX
    profile that asks for CUDA first gets the CPU and is flagged as a fallback, not passed
    off as an accelerator figure."""
    profile = converted.read_yaml("devices/local.yaml")
    converted.write_yaml(
        "devices/cuda-wish.yaml",
        dict(
            profile,
            name="cuda-wish",
            formats=["onnx-fp32"],
            onnx_providers=["CUDAExecutionProvider", "CPUExecutionProvider"],
        ),
    )
    converted.snakemake(
        "--config",
        "devices=local,cuda-wish",
        "workloads=digits-cnn",
        "formats=onnx-fp32,openvino-fp32,openvino-int8",
    )
    rows = table(converted)
    digits = rows[rows.workload.eq("digits-cnn") & rows.batch.eq(1)].set_index(["device", "format"])
    reference = digits.loc[("local", "onnx-fp32")]
    for fmt in ("openvino-fp32", "openvino-int8"):
        row = digits.loc[("local", fmt)]
        assert row.status == "ok" and row.runtime_name == "openvino", row.reason
        assert "INFERENCE_PRECISION_HINT f32" in row.runtime_details
        assert row.accuracy_top1 > 0.9 and abs(row.accuracy_drop) <= 0.02  # measured, real
    assert digits.loc[("local", "openvino-fp32"), "accuracy_top1"] == pytest.approx(
        reference.accuracy_top1, abs=0.005
    )
    assert not reference.accelerator_fallback
    wished = digits.loc[("cuda-wish", "onnx-fp32")]
    assert wished.accelerator_fallback and "CPUExecutionProvider" in wished.runtime_details
    page = (converted.root / "results/report/index.html").read_text()
    assert "CPU fallback" in page


def emulated_board(project, name: str, port: str, workload: str) -> None:
    project.write_yaml(
        f"devices/{name}.yaml",
        {
            "name": name, "transport": "serial", "port": port, "formats": ["tflite-int8"],
            "models": {"ic01": workload}, "windows": 3, "window_s": 0.1, "warmup_runs": 2,
            "power": {"source": "none"},
        },
    )  # fmt: skip


def test_emulated_mlperf_tiny_boards_run_beside_the_local_device(converted):
    """Two serial boards (the emulator on real pseudo-terminals): one's firmware holds the tiny
    suite's ResNet-8 (`ic01`), the other's the digits int8 model. Latency comes from the
    boards' own timestamps, the digits accuracy equals the local run's of the same file, and a
    workload a board's firmware does not hold is an unsupported row."""
    from edgebench.testing.mcu_emulator import Emulator

    converted.snakemake("results/converted/tiny-ic/tflite-int8.json")
    models = converted.root / "results/converted"
    with (
        Emulator(models / "tiny-ic/tflite-int8.tflite", link=converted.root / "mcu-port") as ic,
        Emulator(models / "digits-cnn/tflite-int8.tflite") as digits,
    ):
        emulated_board(converted, "mcu", ic.port, "tiny-ic")
        emulated_board(converted, "mcu-digits", digits.port, "digits-cnn")
        converted.snakemake(
            "--config", "devices=local,mcu,mcu-digits", "workloads=digits-cnn,tiny-ic",
            "formats=tflite-int8",
        )  # fmt: skip
    rows = table(converted)
    int8 = rows[rows.format.eq("tflite-int8") & rows.batch.fillna(1).eq(1)]
    by_device = int8.set_index(["device", "workload"])
    for device, workload in (("mcu", "tiny-ic"), ("mcu-digits", "digits-cnn")):
        row = by_device.loc[(device, workload)]
        assert row.status == "ok" and row.runtime_name == "mlperf-tiny-firmware", row.reason
        assert row.latency_ms_median > 0 and row.throughput_ips > 0
    assert by_device.loc[("local", "tiny-ic")].status == "ok"
    board, local = (
        by_device.loc[("mcu-digits", "digits-cnn")],
        by_device.loc[("local", "digits-cnn")],
    )
    assert board.accuracy_top1 == pytest.approx(local.accuracy_top1, abs=1e-9)
    other = by_device.loc[("mcu", "digits-cnn")]
    assert other.status == "unsupported" and "no firmware model maps" in other.reason
