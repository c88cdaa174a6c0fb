"""The result table from small synthetic raw files that follow docs/raw-format.md."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from edgebench.fileio import write_json
from edgebench.metrics.tables import COLUMNS, POWER_COLUMNS, build_table, read_run, write_tables
from synthetic import batch_records

MS = 1_000_000
DEVICE, WORKLOAD = "local", "digits"
CLASSES, SAMPLES = 10, 20
FLOPS = 2_000_000


def header(fmt: str, batch_sizes: list[int]) -> dict:
    return {
        "type": "header",
        "format_version": 1,
        "device": DEVICE,
        "workload": WORKLOAD,
        "format": fmt,
        "facts": {
            "hostname": "bench-host",
            "cpu_model": "Test CPU",
            "cpu_count": 2,
            "os": "Linux",
            "kernel": "6.1",
            "machine": "x86_64",
            "python": "3.11.9",
            "governor": None,
        },
        "runtime": {"name": "ai_edge_litert", "version": "2.3.0"},
        "threads": 2,
        "model": {"file": f"{fmt}.tflite", "sha256": "0" * 64, "size_bytes": 4096},
        "timing": {"warmup_runs": 2, "warmup_s": 0.1, "min_runs": 3, "min_s": 0.1, "max_s": 1},
        "batch_sizes": batch_sizes,
        "seed": 0,
        "input": {"shape": [8, 8, 1], "dtype": "float32", "range": [0, 1]},
        "clock": "monotonic_ns",
    }


def write_run(
    root: Path,
    fmt: str,
    batches: dict[int, list[float]],
    failed_batch: int | None = None,
    outputs: np.ndarray | None = None,
    end: str = "complete",
    end_reason: str = "",
    with_end: bool = True,
) -> Path:
    run_dir = root / "results" / "raw" / DEVICE / WORKLOAD / fmt
    run_dir.mkdir(parents=True)
    sizes = [*batches, *([failed_batch] if failed_batch else [])]
    records, clock = [header(fmt, sizes)], 10**9
    for batch, latencies in batches.items():
        more, clock = batch_records(batch, latencies, clock)
        records += more
    if failed_batch:
        records.append(
            {
                "type": "batch",
                "batch": failed_batch,
                "status": "failed",
                "reason": "out of memory",
                "load_ns": None,
                "first_ns": None,
                "warmup_runs": 0,
                "warmup_ns": 0,
                "runs": 0,
                "peak_rss_kb": 130_000,
            }
        )
    if outputs is not None:
        np.savez(run_dir / "accuracy.npz", outputs=outputs)
        records.append(
            {
                "type": "accuracy",
                "file": "accuracy.npz",
                "samples": len(outputs),
                "status": "ok",
                "reason": "",
            }
        )
    if with_end:
        records.append({"type": "end", "status": end, "reason": end_reason, "finished_ns": clock})
    path = run_dir / "run.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def write_conversion(root: Path, fmt: str, status: str = "ok", reason: str = "") -> Path:
    record = {"workload": WORKLOAD, "format": fmt, "status": status, "reason": reason}
    if status == "ok":
        record.update(model_file=f"{fmt}.tflite", size_bytes=4096, sha256="0" * 64, ops={})
    path = root / "results" / "converted" / WORKLOAD / f"{fmt}.json"
    write_json(path, record)
    return path


def write_meta(root: Path) -> Path:
    meta = {
        "workload": WORKLOAD,
        "group": "models",
        "family": "cnn",
        "weights": "trained",
        "classes": CLASSES,
        "dataset": "digits",
        "params": 5000,
        "macs": FLOPS // 2,
        "flops": FLOPS,
    }
    path = root / "results" / "workloads" / WORKLOAD / "meta.json"
    write_json(path, meta)
    return path


def one_hot(classes: np.ndarray) -> np.ndarray:
    return np.eye(CLASSES, dtype=np.float32)[classes]


@pytest.fixture
def inputs(tmp_path) -> dict:
    """A plan of six rows: three runs, a failed run, an unsupported conversion, no runtime."""
    labels = np.arange(SAMPLES) % CLASSES
    reference_classes = labels.copy()
    reference_classes[:2] = (labels[:2] + 1) % CLASSES  # the float model misses two
    int8_classes = reference_classes.copy()
    int8_classes[2:7] = (labels[2:7] + 1) % CLASSES  # the int8 model misses five more
    dataset = tmp_path / "datasets" / "digits.npz"
    reference = tmp_path / "results" / "reference" / "digits.npz"
    for path in (dataset, reference):
        path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(dataset, x_test=np.zeros((SAMPLES, 8, 8, 1), np.float32), y_test=labels)
    np.savez(reference, outputs=one_hot(reference_classes))

    runs = [
        write_run(
            tmp_path,
            "tflite-fp32",
            {1: [1, 2, 3, 4, 5], 2: [4, 5, 6]},
            failed_batch=4,
            outputs=one_hot(reference_classes),
        ),
        write_run(tmp_path, "tflite-int8", {1: [1, 1, 1]}, outputs=one_hot(int8_classes)),
        write_run(tmp_path, "onnx-fp32", {1: [2, 2, 2]}),
        write_run(tmp_path, "tflite-dynamic", {}, end="failed", end_reason="agent crashed"),
    ]
    formats = ["tflite-fp32", "tflite-int8", "onnx-fp32", "tflite-dynamic", "openvino-fp32"]
    conversions = [write_conversion(tmp_path, fmt) for fmt in formats]
    conversions.append(write_conversion(tmp_path, "tflite-fp16", "unsupported", "no fp16 op X"))
    profile = {
        "name": DEVICE,
        "formats": formats[:4] + ["tflite-fp16"],
        "power": {"source": "none"},
    }
    return {
        "runs": runs,
        "conversions": conversions,
        "metas": [write_meta(tmp_path)],
        "devices": {DEVICE: profile},
        "plan_rows": [(DEVICE, WORKLOAD, fmt) for fmt in [*formats, "tflite-fp16"]],
        "references": {WORKLOAD: reference},
        "datasets": {WORKLOAD: dataset},
    }


@pytest.fixture
def table(inputs) -> pd.DataFrame:
    return build_table(**inputs)


def rows(table: pd.DataFrame, fmt: str) -> pd.DataFrame:
    return table[table["format"] == fmt]


def test_columns_identity_first(table):
    assert list(table.columns) == COLUMNS
    assert COLUMNS[:8] == ["device", "workload", "format", "batch"] + [
        "group",
        "family",
        "status",
        "reason",
    ]
    assert table["batch"].dtype == "Int64"


def test_one_row_per_batch(table):
    fp32 = rows(table, "tflite-fp32")
    assert fp32["batch"].tolist() == [1, 2, 4]
    assert fp32["status"].tolist() == ["ok", "ok", "failed"]
    assert fp32["reason"].iloc[2] == "out of memory"
    assert len(table) == 3 + 1 + 1 + 1 + 1 + 1
    assert (table["group"] == "models").all() and (table["family"] == "cnn").all()


def test_throughput_is_batch_over_median(table):
    fp32 = rows(table, "tflite-fp32").set_index("batch")
    assert fp32.loc[1, "latency_ms_median"] == 3.0
    assert fp32.loc[2, "latency_ms_median"] == 5.0
    assert fp32.loc[1, "throughput_ips"] == pytest.approx(1 / 0.003)
    assert fp32.loc[2, "throughput_ips"] == pytest.approx(2 / 0.005)
    assert fp32.loc[2, "achieved_flops"] == pytest.approx(400 * FLOPS)
    assert pd.isna(fp32.loc[4, "latency_ms_median"]) and pd.isna(fp32.loc[4, "throughput_ips"])
    assert fp32.loc[1, "runs"] == 5 and fp32.loc[1, "load_ms"] == 30.0


def test_max_batch_stops_before_the_failed_batch(table):
    assert rows(table, "tflite-fp32")["max_batch"].tolist() == [2, 2, 2]
    assert rows(table, "onnx-fp32")["max_batch"].tolist() == [1]


def test_unsupported_conversion_is_a_row_with_reason(table):
    (row,) = rows(table, "tflite-fp16").itertuples()
    assert row.status == "unsupported"
    assert row.reason == "conversion: no fp16 op X"
    assert pd.isna(row.batch) and pd.isna(row.throughput_ips)


def test_device_without_runtime_is_unsupported(table):
    (row,) = rows(table, "openvino-fp32").itertuples()
    assert row.status == "unsupported"
    assert row.reason == "device local has no runtime for openvino-fp32"


def test_failed_run_is_one_row_with_its_reason(table):
    (row,) = rows(table, "tflite-dynamic").itertuples()
    assert (row.status, row.reason) == ("failed", "agent crashed")
    assert row.runtime_name == "ai_edge_litert" and row.hostname == "bench-host"


def test_accuracy_drop_zero_when_outputs_equal_reference(table):
    fp32 = rows(table, "tflite-fp32")
    assert (fp32["accuracy_top1"] == 0.9).all()
    assert (fp32["reference_top1"] == 0.9).all()
    assert (fp32["accuracy_drop"] == 0.0).all()
    assert (fp32["agreement"] == 1.0).all()
    assert (fp32["accuracy_top5"] == 1.0).all()


def test_accuracy_drop_positive_when_outputs_are_wrong(table):
    (row,) = rows(table, "tflite-int8").itertuples()
    assert row.accuracy_top1 == pytest.approx(0.65)
    assert row.accuracy_drop == pytest.approx(0.25)
    assert row.agreement == pytest.approx(0.75)
    assert row.vips == pytest.approx(0.65 * 1000)


def test_vips_empty_without_accuracy(table):
    onnx = rows(table, "onnx-fp32")
    assert onnx["throughput_ips"].notna().all()
    assert onnx[["accuracy_top1", "accuracy_drop", "vips"]].isna().all().all()
    assert onnx["accuracy_note"].tolist() == ["no accuracy run"]
    fp32 = rows(table, "tflite-fp32").set_index("batch")
    assert fp32.loc[2, "vips"] == pytest.approx(0.9 * 400)


def test_power_columns_empty_not_zero(table):
    assert table[POWER_COLUMNS].isna().all().all()
    assert (table["power_note"] == "no power source configured for device local").all()


def test_csv_and_parquet_written_and_readable(table, tmp_path):
    out_dir = tmp_path / "results" / "tables"
    csv_path, parquet_path = write_tables(table, out_dir)
    from_csv = pd.read_csv(csv_path)
    from_parquet = pd.read_parquet(parquet_path)
    assert list(from_csv.columns) == list(from_parquet.columns) == COLUMNS
    pd.testing.assert_frame_equal(from_parquet, table)
    assert from_csv["power_w"].isna().all()
    assert sorted(p.name for p in out_dir.iterdir()) == ["results.csv", "results.parquet"]


def test_read_run_keeps_raw_durations(inputs):
    run = read_run(inputs["runs"][0])
    assert run.samples[2].dtype == np.int64
    assert run.samples[2].tolist() == [4 * MS, 5 * MS, 6 * MS]
    assert [b["batch"] for b in run.batches] == [1, 2, 4]
    assert run.end["status"] == "complete" and run.accuracy["samples"] == SAMPLES


def test_run_without_end_record_raises(tmp_path):
    path = write_run(tmp_path, "tflite-fp32", {1: [1, 2, 3]}, with_end=False)
    with pytest.raises(ValueError, match=str(path)):
        read_run(path)


def test_plan_without_any_run(inputs):
    only_unsupported = {**inputs, "runs": []}
    only_unsupported["plan_rows"] = [(DEVICE, WORKLOAD, "tflite-fp16")]
    table = build_table(**only_unsupported)
    assert table["status"].tolist() == ["unsupported"] and list(table.columns) == COLUMNS


def test_missing_run_log_raises(inputs):
    with pytest.raises(ValueError, match="no run.jsonl"):
        build_table(**{**inputs, "runs": inputs["runs"][1:]})


def test_partial_table_marks_missing_runs_failed_with_their_reason(inputs):
    missing = read_run(inputs["runs"][0]).header
    key = (DEVICE, WORKLOAD, missing["format"])
    reasons = {key: "device failed: ssh to board failed: Connection refused"}
    table = build_table(**{**inputs, "runs": inputs["runs"][1:]}, missing_reasons=reasons)
    failed = table[table["format"] == missing["format"]]
    assert failed["status"].tolist() == ["failed"]
    assert failed["reason"].iloc[0] == reasons[key]
    assert (table[table["format"] != missing["format"]]["status"] != "failed").any()
    no_reason = build_table(**{**inputs, "runs": inputs["runs"][1:]}, missing_reasons={})
    assert "not run" in no_reason[no_reason["format"] == missing["format"]]["reason"].iloc[0]


def test_a_window_cut_short_by_max_runs_is_noted():
    from edgebench.metrics.tables import timing_note

    timing = {"min_s": 1.0, "max_runs": 10000}
    note = timing_note({"stopped_by": "max_runs", "window_ns": 280_000_000}, timing)
    assert note == "max_runs (10000) ended the timed window after 0.28 s, before min_s (1.0 s)"
    assert timing_note({"stopped_by": "min_reached", "window_ns": 10**9}, timing) is None
    pooled = {"stopped_by": "max_runs", "window_ns": 840_000_000, "processes": [{}, {}, {}]}
    assert timing_note(pooled, timing) == (  # per process, as min_s is: not their sum
        "max_runs (10000) ended the timed window after 0.28 s (the mean of 3 processes), "
        "before min_s (1.0 s)"
    )
    held = {"stopped_by": "max_runs", "window_ns": 280_000_000, "held_runs": 5, "held_ns": 8e8}
    assert timing_note(held, timing) == (
        f"{note}; 5 untimed runs held the power window open for another 0.8 s"
    )


def test_a_batch_size_stopped_at_its_budget_says_so_with_the_interval_it_reached():
    from edgebench.metrics.tables import batch_columns, timing_note

    timing = {"budget_s": 1.5, "processes": 3, "target_ci": 0.01, "max_s": 3.0, "min_s": 0.3}
    processes = [{"process": i, "stopped_by": s} for i, s in enumerate(["budget", "target_ci"])]
    record = {"stopped_by": "budget", "processes": [*processes, processes[0]]}
    assert timing_note(record, timing, 0.0234) == (
        "stopped at its budget: budget_s 1.5 s per batch size, 0.5 s for each of 3 processes "
        "(2 of 3 stopped there); the median's 95% interval reached +/- 2.3% (target +/- 1.0%)"
    )
    # one process (a block, sequential) and no interval: the budget alone
    one = {"stopped_by": "budget"}
    assert timing_note(one, {"budget_s": 2, "processes": 1}) == (
        "stopped at its budget: budget_s 2 s per batch size, 2 s for each of 1 process "
        "(1 of 1 stopped there)"
    )
    # in the table: the note carries the pooled samples' own half-width
    samples = np.linspace(1e6, 1.2e6, 200)
    batch = {"batch": 1, "status": "ok", "runs": 200, **record}
    row = batch_columns(batch, samples, timing, {0: samples[:100], 1: samples[100:]})
    halfwidth = row["latency_ci_halfwidth"]
    assert f"reached +/- {halfwidth:.1%} (target +/- 1.0%)" in row["timing_note"]
    reached = batch_columns({**batch, "stopped_by": "target_ci"}, samples, timing)
    assert reached["timing_note"] is None


def test_a_raw_log_of_an_unknown_format_version_is_refused(inputs, tmp_path):
    lines = Path(inputs["runs"][0]).read_text().splitlines()
    header = json.loads(lines[0])
    path = tmp_path / "future" / "run.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join([json.dumps({**header, "format_version": 99}), *lines[1:]]) + "\n")
    with pytest.raises(ValueError, match="format_version 99"):
        read_run(path)


def test_run_ids_come_from_the_header_not_the_path(inputs, tmp_path):
    from edgebench.rawlog import run_key

    moved = tmp_path / "anywhere.jsonl"
    moved.write_text(Path(inputs["runs"][0]).read_text())
    header = json.loads(moved.read_text().splitlines()[0])
    assert run_key(moved) == (header["device"], header["workload"], header["format"])
    assert read_run(moved).key == run_key(moved)


def test_the_readme_column_table_is_the_catalogues():
    from edgebench.metrics.columns import markdown

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    generated = readme.split("<!-- columns:start -->\n")[1].split("\n<!-- columns:end -->")[0]
    assert generated == markdown()


def test_derived_metrics_are_one_formula_for_tables_and_raw_summaries():
    from edgebench.metrics.derived import add_derived

    frame = pd.DataFrame(
        {"batch": [2], "latency_ms_median": [4.0], "flops": [10], "status": ["ok"],
         "accuracy_top1": [0.5], "reference_top1": [0.75], "power_w": [2.0],
         "idle_power_w": [0.5], "power_energy_j": [0.8], "runs": [100]}
    )  # fmt: skip
    row = add_derived(frame).iloc[0]
    assert row.throughput_ips == 500 and row.achieved_flops == 5000 and row.max_batch == 2
    assert row.accuracy_drop == 0.25 and row.vips == 250
    assert row.efficiency_ips_per_w == 250 and row.active_power_w == 1.5
    assert row.energy_per_inference_mj == pytest.approx(4.0)  # 0.8 J over 100 runs x batch 2
    held = add_derived(frame.assign(held_runs=[100])).iloc[0]  # a power window held open
    assert held.energy_per_inference_mj == pytest.approx(2.0) and held.throughput_ips == 500
    bare = add_derived(pd.DataFrame({"batch": [1], "latency_ms_median": [1.0]})).iloc[0]
    assert bare.throughput_ips == 1000 and np.isnan(bare.vips) and np.isnan(bare.achieved_flops)


def test_an_accuracy_drop_beyond_the_suites_limit_is_flagged(inputs):
    table = build_table(**inputs, max_accuracy_drop={"default": 0.5, WORKLOAD: 0.01})
    int8 = table[table["format"].eq("tflite-int8")]
    assert (int8["accuracy_drop"] > 0.01).all() and int8["accuracy_fail"].eq(True).all()
    assert int8["accuracy_drop_limit"].eq(0.01).all()
    fp32 = table[table["format"].eq("tflite-fp32") & table["status"].eq("ok")]
    assert fp32["accuracy_fail"].eq(False).all()
    unlimited = build_table(**inputs)
    assert unlimited["accuracy_fail"].isna().all()
    generous = build_table(**inputs, max_accuracy_drop=0.9)
    assert not generous["accuracy_fail"].eq(True).any()


def test_edge_tpu_compiler_flags_reach_the_table(inputs, monkeypatch):
    """Each converter reads its own records' flags (Converter.flags); the table shows them."""
    from edgebench.convert.tflite import TfliteConverter
    from edgebench.metrics.annotations import conversion_flags

    facts = {"edgetpu": {"flags": ["cpu_ops", "off_chip_parameters"], "cpu_ops": {"MEAN": 1}}}
    record = {"format": "edgetpu-int8", **facts}
    assert conversion_flags(record) == "cpu_ops (MEAN x1); off_chip_parameters"
    assert conversion_flags({**record, "edgetpu": {"flags": []}}) is None
    assert conversion_flags({"format": "tflite-int8", **facts}) is None  # not its converter's
    assert conversion_flags({"format": "a-plugin-not-installed"}) is None
    monkeypatch.setattr(TfliteConverter, "flags", staticmethod(lambda r: r.get("said", [])))
    path = next(p for p in inputs["conversions"] if p.name == "tflite-int8.json")
    said = ["cpu_ops (MEAN x1)", "off_chip_parameters"]
    path.write_text(json.dumps({**json.loads(path.read_text()), "said": said}))
    table = build_table(**inputs)
    flagged = table[table["format"].eq("tflite-int8")]["conversion_flags"]
    assert flagged.eq("cpu_ops (MEAN x1); off_chip_parameters").all()
    assert table[table["format"].ne("tflite-int8")]["conversion_flags"].isna().all()


RECORD_READERS = ["conversion_record", "workload_meta", "image_record", "device_digest"]


@pytest.mark.parametrize("name", [*RECORD_READERS, "engine_device"])
def test_every_record_carries_its_version_and_an_unknown_one_is_refused(tmp_path, name):
    """Each JSON output later code reads has a format_version, written by its writer and checked
    by its one reader, which names the file and what to do (issue 22 item 5)."""
    from edgebench import fileio

    read, write = getattr(fileio, f"read_{name}"), getattr(fileio, f"write_{name}")
    path = tmp_path / f"{name}.json"
    write(path, {"workload": "w"})
    record = read(path)
    assert record["workload"] == "w" and record["format_version"] >= 1
    fileio.write_json(path, {"workload": "w", "format_version": 99})
    with pytest.raises(ValueError, match=r"format_version 99, but this edgebench reads") as error:
        read(path)
    assert str(path) in str(error.value) and ("again" in str(error.value))
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        read(path)


def test_records_written_before_versions_are_version_one(tmp_path):
    from edgebench.fileio import read_conversion_record, read_device_digest, write_json

    path = tmp_path / "old.json"
    write_json(path, {"workload": "w", "format": "tflite-fp32", "status": "ok"})
    assert read_conversion_record(path)["status"] == "ok"
    with pytest.raises(ValueError, match="format_version 1, but this edgebench reads 3"):
        read_device_digest(path)  # digests carried their version from the start


def test_a_conversion_record_of_an_unknown_version_stops_the_table(tmp_path):
    from edgebench.fileio import write_json
    from edgebench.metrics.tables import _conversion_frame

    path = tmp_path / "tflite-fp32.json"
    record = {"workload": "w", "format": "tflite-fp32", "status": "ok", "format_version": 2}
    write_json(path, record)
    with pytest.raises(ValueError, match=f"{path}: conversion record format_version 2"):
        _conversion_frame([path])
