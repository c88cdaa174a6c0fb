"""Conversions are reproducible: a workload converted again gives byte-identical model files in
every format this machine can convert with the `none` engine: in this process, and in fresh
processes with other hash seeds that convert the formats in other orders (tf2onnx's name
counters have moved on; its constants come out in hash order). tests/test_containers.py checks
the docker engine against these, and the OpenVINO IR (its converter is in the openvino image
only, unless installed here)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from edgebench.convert.job import convert_workload
from edgebench.fileio import read_json
from edgebench.formats import FORMATS
from edgebench.settings import load_catalog
from edgebench.testing.project import REPO
from edgebench.workloads.build import build_workload

# Convolutions, batch norms and an add: many generated names; pooling, Flatten and Dense: the
# Flatten's shape arithmetic has equal constants that tf2onnx merges in hash order.
WORKLOADS = ["cell-resnet-identity-f64", "cell-classifier-avgpool-dense10"]
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


CONVERT_ALL = """
import sys
from pathlib import Path
from edgebench.convert.job import convert_workload
workloads, out, formats = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(",")
for workload in sys.argv[4:]:
    for fmt in formats:
        convert_workload(workloads / workload, fmt, out / workload / f"{fmt}.json", samples=8)
"""


def in_fresh_process(workloads: Path, out: Path, formats: list[str], seed: int) -> None:
    """Convert every workload to `formats`, in that order, in a new process with that hash
    seed."""
    env = {**os.environ, "PYTHONHASHSEED": str(seed), "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        sys.executable, "-c", CONVERT_ALL, str(workloads), str(out), ",".join(formats),
        *WORKLOADS,
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_local_format_converts_to_identical_bytes_every_time(workloads, tmp_path):
    assert {"tflite-fp32", "tflite-fp16", "tflite-dynamic", "tflite-int8", "onnx-fp32"} <= set(
        LOCAL
    )
    independent = [f for f in LOCAL if FORMATS[f].source is None]
    derived = [f for f in LOCAL if FORMATS[f].source is not None]  # after their sources
    for workload in WORKLOADS:
        for fmt in independent + derived:
            record = tmp_path / "here" / workload / f"{fmt}.json"
            convert_workload(workloads / workload, fmt, record, samples=8)
    # again in another process, the formats in another order: the converters' counters differ
    in_fresh_process(workloads, tmp_path / "there", independent[::-1] + derived, seed=1)
    for workload in WORKLOADS:
        for fmt in LOCAL:
            here = model_files(tmp_path / "here" / workload / f"{fmt}.json")
            assert here == model_files(tmp_path / "there" / workload / f"{fmt}.json"), fmt


def test_onnx_files_do_not_depend_on_the_hash_seed(workloads, tmp_path):
    """Which of the Flatten's equal constants tf2onnx keeps, and in what order it stores them,
    follows Python's hash order: with these seeds its own output differs (tf2onnx 1.17)."""
    with ThreadPoolExecutor(2) as pool:
        seeds = [1, 2, 3, 4]
        list(
            pool.map(
                lambda s: in_fresh_process(workloads, tmp_path / str(s), ["onnx-fp32"], s), seeds
            )
        )
    for workload in WORKLOADS:
        files = [model_files(tmp_path / str(s) / workload / "onnx-fp32.json") for s in seeds]
        assert all(f == files[0] for f in files), workload
