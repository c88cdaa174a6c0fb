"""Conversions are reproducible: one workload converted twice gives byte-identical model files in
every format this machine can convert with the `none` engine, converted again in the same
process (tf2onnx's name counters have moved on) and in fresh processes, as the workflow runs
its conversion jobs. tests/test_containers.py checks the docker engine against these, and the
OpenVINO IR (its converter is in the openvino image only, unless installed here)."""

from __future__ import annotations

import hashlib
import importlib.util
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from edgebench.convert.engine import Engine, run_conversion
from edgebench.convert.formats import FORMATS
from edgebench.convert.job import convert_workload
from edgebench.fileio import read_json
from edgebench.settings import load_catalog
from edgebench.settings.project import REPO
from edgebench.workloads.build import build_workload

WORKLOADS = ["cell-resnet-identity-f64"]  # convolutions, batch norms, an add: many generated names
# Every format made by a converter this environment has (TensorRT engines depend on the GPU's
# timing-based tactic choice and are not reproducible by design; Edge TPU needs its compiler).
LOCAL = [name for name, fmt in FORMATS.items() if fmt.image == "tensorflow"]
if importlib.util.find_spec("openvino") is not None:
    LOCAL.append("openvino-fp32")


@pytest.fixture(scope="module")
def workloads(tmp_path_factory):
    root = tmp_path_factory.mktemp("determinism")
    catalog = load_catalog(REPO)
    for name in WORKLOADS:
        build_workload(catalog[name], root / name / "model.keras", root / name / "meta.json")
    return root


def model_files(record_path: Path) -> dict[str, str]:
    """SHA-256 of every file a conversion wrote (the IR is two), as its record states them."""
    record = read_json(record_path)
    assert record["status"] == "ok", record["reason"]
    stated = record.get("files") or {record["model_file"]: record["sha256"]}
    hashes = {
        name: hashlib.sha256((record_path.parent / name).read_bytes()).hexdigest()
        for name in stated
    }
    assert hashes == stated, record_path
    return hashes


def test_every_local_format_converts_to_identical_bytes_every_time(workloads, tmp_path):
    assert {"tflite-fp32", "tflite-fp16", "tflite-dynamic", "tflite-int8", "onnx-fp32"} <= set(
        LOCAL
    )
    independent = [f for f in LOCAL if FORMATS[f].source is None]
    derived = [f for f in LOCAL if FORMATS[f].source is not None]  # after their sources
    # In this process twice, the second time in another order: every converter runs after
    # other conversions (tf2onnx's counters have moved on).
    for run, order in (("first", independent + derived), ("again", independent[::-1] + derived)):
        for workload in WORKLOADS:
            for fmt in order:
                record = tmp_path / run / workload / f"{fmt}.json"
                convert_workload(workloads / workload, fmt, record, samples=8)

    def in_own_process(job):  # one process per conversion, two at a time, as the workflow runs
        workload, fmt = job
        record = tmp_path / "processes" / workload / f"{fmt}.json"
        log = tmp_path / "processes" / f"{workload}-{fmt}.log"
        code = run_conversion(
            Engine("none"), workloads / workload, fmt, record, log, samples=8, seed=0
        )
        assert code == 0, log.read_text()[-2000:]

    with ThreadPoolExecutor(2) as pool:
        for formats in (independent, derived):
            list(pool.map(in_own_process, [(w, f) for w in WORKLOADS for f in formats]))
    for workload in WORKLOADS:
        for fmt in LOCAL:
            files = {
                run: model_files(tmp_path / run / workload / f"{fmt}.json")
                for run in ("first", "again", "processes")
            }
            assert files["first"] == files["again"] == files["processes"], (workload, fmt)
