"""The warm server (edgebench.warm): TensorFlow jobs forked from one process that imported it once,
each job still a process of its own, the same files as a fresh process, no child outliving its
job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from edgebench import warm
from edgebench.convert.engine import run_conversion
from edgebench.fileio import read_json
from edgebench.images.engines import Engine
from edgebench.settings import load_catalog
from edgebench.testing.project import REPO
from edgebench.workloads.build import build_workload

BOUND_S = 300  # generous: a first job starts the server, which imports TensorFlow

# jobs of a user's module in the client's folder: the child imports it from there
JOBS = '''
import os, time
from pathlib import Path

STATE = []


def remember(marker):
    """Leave a trace in this process's module state and environment."""
    STATE.append("seen")
    os.environ["EDGEBENCH_TEST_TRACE"] = "set"
    Path(marker).write_text(f"{os.getpid()} {os.getppid()}")
    return 0


def look(marker):
    Path(marker).write_text(f"{len(STATE)} {os.environ.get('EDGEBENCH_TEST_TRACE', '-')}")
    return 0


def wait(marker):
    Path(marker).write_text(str(os.getpid()))
    time.sleep(600)
    return 0


def fail():
    raise RuntimeError("the job's own error")
'''


@pytest.fixture
def folder(tmp_path, monkeypatch):
    (tmp_path / "warm_jobs.py").write_text(JOBS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    return tmp_path


def wait_for(condition, what: str):
    deadline = time.monotonic() + BOUND_S
    while not condition():
        assert time.monotonic() < deadline, f"not within {BOUND_S} s: {what}"
        time.sleep(0.05)


def test_a_job_runs_in_a_child_of_the_server_and_leaves_nothing_for_the_next(folder):
    first, second = folder / "first", folder / "second"
    log = folder / "job.log"
    assert warm.run_job("warm_jobs:remember", {"marker": str(first)}, log) == 0
    assert warm.run_job("warm_jobs:look", {"marker": str(second)}, log) == 0
    child, parent = map(int, first.read_text().split())
    assert child != os.getpid() and parent != os.getpid()  # a child of the server, not of us
    assert "forked from the warm server" in log.read_text()
    assert second.read_text() == "0 -", "the second job saw the first job's state"
    assert "EDGEBENCH_TEST_TRACE" not in os.environ


def test_a_failing_job_exits_non_zero_with_its_error_in_the_log(folder):
    log = folder / "job.log"
    assert warm.run_job("warm_jobs:fail", {}, log) == 1
    assert "RuntimeError: the job's own error" in log.read_text()


def test_under_slurm_a_job_runs_in_its_own_process(folder, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "1")
    monkeypatch.syspath_prepend(str(folder))
    marker, log = folder / "marker", folder / "job.log"
    assert warm.run_job("warm_jobs:remember", {"marker": str(marker)}, log) == 0
    assert int(marker.read_text().split()[0]) == os.getpid()
    assert "warm server" not in log.read_text()


def test_an_interrupted_job_takes_its_child_with_it(folder):
    """Snakemake killing a job (Ctrl-C, --keep-going after a failure) must not leave the forked
    child converting in the server's session."""
    marker = folder / "marker"
    client = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from edgebench import warm; "
            "sys.exit(warm.run_job('warm_jobs:wait', {'marker': sys.argv[1]}, 'job.log'))",
            str(marker),
        ],
        cwd=folder,
    )
    wait_for(lambda: marker.is_file() and marker.read_text(), "the child started")
    child = int(marker.read_text())
    client.kill()  # SIGKILL: the client cannot clean up; the server must notice
    client.wait()
    wait_for(lambda: not alive(child), f"the child {child} ended after its client was killed")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return status.is_file() and status.read_text().split()[2] != "Z"


def test_what_the_server_imported_names_its_socket(monkeypatch, tmp_path):
    """Another TensorFlow setting or an edited edgebench source gets a server of its own."""
    source = tmp_path / "edgebench" / "module.py"
    source.parent.mkdir()
    source.write_text("x = 1\n")
    monkeypatch.setattr(warm, "PACKAGE", source.parent)
    before = warm.fingerprint()
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    with_setting = warm.fingerprint()
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    assert warm.fingerprint() == before
    source.write_text("x = 22\n")
    assert len({before, with_setting, warm.fingerprint()}) == 3


def test_a_temporary_folder_too_deep_for_a_socket_is_said(monkeypatch, tmp_path):
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    monkeypatch.setattr(warm.tempfile, "gettempdir", lambda: str(deep))
    with pytest.raises(OSError, match="set TMPDIR shorter"):
        warm.socket_path()


def test_the_socket_folder_must_be_private(monkeypatch, tmp_path):
    monkeypatch.setattr(warm.tempfile, "gettempdir", lambda: str(tmp_path))
    folder = tmp_path / f"edgebench-{os.getuid()}"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    with pytest.raises(PermissionError, match="mode 700"):
        warm.socket_path()


def test_a_conversion_through_the_server_writes_the_fresh_process_file(tmp_path, monkeypatch):
    """The same bytes as `python -m edgebench.convert` in a fresh process, for a float, an int8
    and an ONNX format (tf2onnx's name counters); `server=False` converts in a fresh process."""
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    spec = load_catalog(REPO)["layer-conv2d-f32-s1"]
    build_workload(spec, tmp_path / "w" / "model.keras", tmp_path / "w" / "meta.json")
    for fmt in ("tflite-fp32", "tflite-int8", "onnx-fp32"):
        records = {}
        for server in (True, False):
            record, log = tmp_path / f"{fmt}-{server}.json", tmp_path / f"{fmt}-{server}.log"
            run_conversion(Engine("none"), tmp_path / "w", fmt, record, log, 8, 0, server=server)
            records[server] = read_json(record)
            assert ("forked from the warm server" in log.read_text()) is server
        assert records[True]["status"] == "ok"
        assert records[True]["sha256"] == records[False]["sha256"]


def test_the_server_leaves_when_idle(short_folder):
    """A server nobody uses goes away and takes its socket with it."""
    path = short_folder / "idle.sock"
    server = serving(path, "--idle-s", "1")
    assert server.wait(timeout=BOUND_S) == 0
    assert not path.exists()


@pytest.mark.parametrize("given", ["false", "False", "FALSE"])
def test_the_switch_reads_false_as_snakemake_delivers_it(given):
    """`--config warm_server=false` arrives as the string 'false' (Snakemake parses only
    True/False): it must switch the server off, not be truthy text or refused."""
    from edgebench.settings.plan import validate_config

    config = {"devices": ["local"], "suite": "quick", "containers": "none", "warm_server": given}
    assert validate_config(config, REPO)["warm_server"] is False


def test_a_switch_that_is_not_yes_or_no_is_refused():
    from edgebench.settings import ConfigError
    from edgebench.settings.plan import validate_config

    config = {"devices": ["local"], "suite": "quick", "containers": "none", "warm_server": "maybe"}
    with pytest.raises(ConfigError, match="warm_server"):
        validate_config(config, REPO)


def serving(path: Path, *args: str) -> subprocess.Popen:
    """A server started by hand on `path`, once its socket is there (or it failed: then its
    exit fails the test at once, not after the bound)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "edgebench.warm", "--socket", str(path), *args],
        env={**os.environ, "PYTHONPATH": str(REPO / "workflow")},
    )
    wait_for(lambda: path.exists() or server.poll() is not None, "the server's socket")
    assert server.poll() is None, f"the server exited with {server.returncode}"
    return server


@pytest.fixture
def short_folder():
    """A private folder with a short path: a socket's path is at most 107 bytes (pytest's
    tmp_path under a worker can be longer)."""
    folder = Path(tempfile.mkdtemp(prefix="ebw-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_stopped_server_leaves_and_the_next_job_starts_another(short_folder):
    """`python -m edgebench.warm --stop` (the test session runs it at its end): this checkout's
    server leaves with its socket; another checkout's is not asked."""
    folder = short_folder
    path = folder / f"warm-{warm.checkout()}-test.sock"
    another_checkout = folder / "warm-0123abcd-test.sock"
    another_checkout.write_text("not a socket of this checkout: left alone")
    server = serving(path)
    assert warm.stop_servers(folder) == [path.name]
    assert server.wait(timeout=BOUND_S) == 0
    assert not path.exists() and another_checkout.exists()
    assert warm.stop_servers(folder) == []


def test_the_workflow_forks_its_jobs_from_the_server_unless_told_not_to(project):
    """Through Snakemake: a build and a conversion job say they were forked from the warm
    server; with `--config warm_server=false` (as typed on the command line) they import
    TensorFlow themselves and their logs say nothing of a server."""
    target = "results/converted/layer-fc-128-32/tflite-fp32.json"
    logs = [
        project.root / "results/logs/workloads/layer-fc-128-32.log",
        project.root / "results/logs/convert/layer-fc-128-32/tflite-fp32.log",
    ]
    project.snakemake(target)
    for log in logs:
        assert "forked from the warm server" in log.read_text(), log
    project.snakemake(target, "--forcerun", "build_workload", "--config", "warm_server=false")
    for log in logs:
        assert "warm server" not in log.read_text(), log
