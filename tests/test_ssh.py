"""SSH dispatch against real OpenSSH servers playing boards (see ssh_boards.py)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import SNAKEMAKE, Project, need
from edgebench.devices.ssh import HostKeyError, SshError, SshTransport
from edgebench.testing.boards import Board, Keys, free_port, have_netns

pytestmark = pytest.mark.integration
PYTHON = sys.executable  # the boards share this machine's file system, so this Python too

SUITE = {
    "description": "ssh test suite",
    "weights": "random",
    "workloads": ["layer-fc-128-32", "layer-conv2d-f32-s1"],
    "formats": ["tflite-fp32", "onnx-fp32"],
    "calibration_samples": 4,
    "batch_sizes": [1],
    "timing": {"warmup_runs": 2, "warmup_s": 0.0, "min_runs": 20, "min_s": 0.05, "max_s": 5.0},
}


@pytest.fixture(scope="module")
def boards():
    need(Path("/usr/sbin/sshd").exists(), "needs Debian's openssh-server (/usr/sbin/sshd)")
    # searchable by other users: a second user of a board reads its files (login_as)
    root = Path(tempfile.mkdtemp(prefix="ebt-ssh-"))
    root.chmod(0o755)
    keys = Keys(root / "keys")
    netns = have_netns()
    started = []
    try:
        for index, name in enumerate(["board-a", "board-b"], start=1):
            board = Board(keys, name, index, netns=netns and name == "board-a").start()
            started.append(board)
        yield started
    finally:
        for board in started:
            board.stop()
        shutil.rmtree(root, ignore_errors=True)


def trusted(board: Board) -> Board:
    if board.host_key_line not in board.keys.known_hosts.read_text():
        board.trust()
    return board


def test_unknown_host_key_is_refused_with_the_command_that_adds_it(boards):
    board = boards[1]
    profile = board.profile(PYTHON, host=f"root@{board.address}", port=board.port)
    profile["ssh_options"] = [f"UserKnownHostsFile={board.root / 'empty_known_hosts'}",
                              f"IdentityFile={board.keys.identity}"]  # fmt: skip
    with pytest.raises(HostKeyError) as error:
        SshTransport(profile).remote("true")
    message = str(error.value)
    assert "ssh-keyscan -p" in message and board.address in message and "never accepts" in message


def test_unreachable_host_is_reported_by_name(boards, tmp_path):
    profile = boards[0].profile(PYTHON, host="root@127.0.0.1", port=free_port(), retries=0)
    profile["ssh_config"] = str(tmp_path / "none")
    (tmp_path / "none").write_text("")
    with pytest.raises(SshError) as error:
        SshTransport(profile).remote("true")
    assert "root@127.0.0.1" in str(error.value) and "refused" in str(error.value).lower()


def test_remote_commands_quote_every_value(boards, tmp_path):
    transport = SshTransport(trusted(boards[1]).profile(PYTHON))
    odd = tmp_path / "it's a $(dangerous) name; echo pwned"
    result = transport.remote(f"mkdir -p {__import__('shlex').quote(str(odd))} && echo done")
    assert result.returncode == 0 and odd.is_dir()


@pytest.fixture(scope="module")
def project(boards, tmp_path_factory) -> Project:
    """One project for the workflow tests below, so workloads are converted once."""
    project = Project(tmp_path_factory.mktemp("ssh-project") / "p")
    for board in boards:
        project.write_yaml(f"devices/{board.name}.yaml", trusted(board).profile(PYTHON))
    project.write_yaml("config/suites/ssh.yaml", SUITE)
    return project


def raw_logs(project: Project, device: str) -> dict[Path, str]:
    logs = sorted((project.root / "results" / "raw" / device).glob("*/*/run.jsonl"))
    return {log: hashlib.sha256(log.read_bytes()).hexdigest() for log in logs}


def records(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_two_boards_run_and_never_overlap_on_one_board(boards, project):
    project.snakemake("--cores", "4", "--config", "suite=ssh", "devices=board-a,board-b")
    for board in boards:
        logs = raw_logs(project, board.name)
        assert len(logs) == 4
        spans = []
        for log in logs:
            lines = records(log)
            assert lines[-1]["status"] == "complete"
            assert lines[0]["host_clock"]["round_trip_ns"] > 0
            samples = [r for r in lines if r["type"] == "sample"]
            spans.append((samples[0]["start_ns"], samples[-1]["end_ns"]))
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end < start, f"two runs overlapped on {board.name}"
    table = (project.root / "results" / "tables" / "results.csv").read_text()
    assert "board-a" in table and "board-b" in table


def test_unreachable_device_fails_alone_and_the_others_are_kept(boards, project, tmp_path):
    ghost = boards[1].profile(
        PYTHON, name="ghost", host="root@127.0.0.1", port=free_port(), retries=1
    )
    ghost["ssh_config"] = str(tmp_path / "empty_config")
    (tmp_path / "empty_config").write_text("")
    project.write_yaml("devices/ghost.yaml", ghost)
    result = project.snakemake(
        "--cores", "2", "--config", "suite=ssh", "devices=board-b,ghost", check=False
    )
    assert result.returncode != 0
    assert len(raw_logs(project, "board-b")) == 4
    assert not raw_logs(project, "ghost")
    ghost_logs = "".join(
        p.read_text() for p in (project.root / "results/logs/run/ghost").rglob("*.log")
    )
    output = result.stdout + result.stderr + ghost_logs
    assert "root@127.0.0.1" in output and "refused" in output.lower()
    # the tables and report cover what completed; the dead board's rows say why
    import pandas as pd

    rows = pd.read_csv(project.root / "results/tables/results.csv")
    assert (rows[rows.device == "board-b"].status == "ok").all()
    ghost_rows = rows[rows.device == "ghost"]
    assert len(ghost_rows) == 4 and (ghost_rows.status == "failed").all()
    assert ghost_rows.reason.str.contains("refused", case=False).all()
    assert (project.root / "results/report/index.html").exists()
    # resumed without the dead board: nothing already measured runs again
    jobs = project.planned_jobs("--config", "suite=ssh", "devices=board-b")
    assert jobs == {"plan_manifest": 1, "tables": 1, "report": 1, "check_rows": 1, "all": 1}


def test_link_cut_mid_run_is_retried_and_results_are_complete(boards, project):
    board_a = boards[0]
    if not board_a.netns:
        need(False, "cutting a link needs root and ip netns (board-a runs on loopback here)")
    config = ["--config", "suite=ssh"]
    project.snakemake("--cores", "2", *config, "devices=board-b")
    before = raw_logs(project, "board-b")

    # board-a's own timing: the conv2d block (~0.1 ms a run) then times for 4 s, long enough
    # to cut into (the microsecond fc block reaches max_runs first)
    slow = {"min_s": 4.0, "max_s": 8.0, "max_runs": 100_000}
    project.write_yaml("devices/board-a.yaml", board_a.profile(PYTHON, timing=slow))
    cut_done = threading.Event()

    def cut_when_timing() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if list(board_a.workdir.glob("runs/*/layer-conv2d-f32-s1/*/*/out/run.jsonl.part")):
                time.sleep(1.0)  # well inside the timed loop
                board_a.cut()
                time.sleep(6.0)  # longer than ssh's keep-alive gives up after
                board_a.restore()
                cut_done.set()
                return
            time.sleep(0.1)

    cutter = threading.Thread(target=cut_when_timing, daemon=True)
    cutter.start()
    project.snakemake("--cores", "2", *config, "devices=board-a,board-b")
    cutter.join(timeout=5)
    assert cut_done.is_set(), "the link was never cut"
    logs = raw_logs(project, "board-a")
    assert len(logs) == 4
    for log in logs:
        lines = records(log)
        assert lines[0]["type"] == "header" and lines[-1]["status"] == "complete"
        assert [b["status"] for b in lines if b["type"] == "batch"] == ["ok"]
    run_logs = "".join(
        p.read_text() for p in (project.root / "results/logs/run/board-a").rglob("*.log")
    )
    assert "retrying" in run_logs
    assert raw_logs(project, "board-b") == before  # the other board's results are untouched


# --- one board, one run, whatever happens; errors that say what happened ---------------------


def test_a_changed_host_key_is_reported_as_changed_with_the_safe_fix(boards, tmp_path):
    board = boards[1]
    stale = tmp_path / "known_hosts"
    other_key = tmp_path / "other"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True
    )
    kind, key = Path(f"{other_key}.pub").read_text().split()[:2]
    stale.write_text(f"{board.host_key_line.split()[0]} {kind} {key}\n")
    profile = board.profile(
        PYTHON, host=f"root@{board.address}", port=board.port, retries=0, reuse_connection=False
    )
    profile["ssh_options"] = [f"UserKnownHostsFile={stale}", f"IdentityFile={board.keys.identity}"]
    with pytest.raises(HostKeyError) as error:
        SshTransport(profile).remote("true")
    message = str(error.value)
    assert "has CHANGED" in message and f"{stale} line 1" in message
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", str(board.root / "host_ed25519.pub")], capture_output=True, text=True
    ).stdout.split()[1]
    assert f"now presents the ED25519 key {fingerprint}." in message
    assert f"ssh-keygen -R '[{board.address}]:{board.port}' -f {stale}" in message or (
        f"ssh-keygen -R {board.address} -f {stale}" in message
    )
    assert "~/.ssh/known_hosts" not in message


def test_an_unknown_key_hint_names_the_profiles_known_hosts_file(boards, tmp_path):
    board = boards[1]
    empty = tmp_path / "lab_known_hosts"
    profile = board.profile(
        PYTHON, host=f"root@{board.address}", port=board.port, retries=0, reuse_connection=False
    )
    profile["ssh_options"] = [f"UserKnownHostsFile={empty}", f"IdentityFile={board.keys.identity}"]
    with pytest.raises(HostKeyError, match=f">> {empty}"):
        SshTransport(profile).remote("true")


def test_the_control_socket_folder_is_private_and_never_someone_elses(tmp_path, monkeypatch):
    import os
    import tempfile

    from edgebench.devices.ssh import control_dir

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    folder = Path(control_dir())
    assert folder.stat().st_mode & 0o777 == 0o700
    need(os.geteuid() == 0, "handing the folder to another user needs root")
    os.chown(folder, 65534, 65534)
    with pytest.raises(SshError, match="not a folder owned by you"):
        control_dir()


def stage_job(board: Board, tmp_path: Path, project_root: Path, **job_changes) -> Path:
    """A staged run of the fc block on the board's own Python, as dispatch stages it."""
    from edgebench.devices.dispatch import board_lock_name
    from edgebench.devices.staging import stage_run

    profile = board.profile(PYTHON)
    # the conv2d block takes ~0.1 ms: half a minute of samples stays small in memory
    model = project_root / "results/converted/layer-conv2d-f32-s1/tflite-fp32.tflite"
    job = {
        "device": board.name,
        "workload": "layer-conv2d-f32-s1",
        "format": "tflite-fp32",
        "runtime_family": "tflite",
        "batch_sizes": [1],
        "timing": {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 10, "min_s": 30.0,
                   "max_s": 60.0, "max_runs": 10**6},
        "threads": 1,
        "seed": 0,
        "input_range": [-1.0, 1.0],
        "board_lock": SshTransport(profile).board_lock(board_lock_name(profile)),
        "owner": {"host": socket.gethostname(), "project": str(project_root.resolve())},
        **job_changes,
    }  # fmt: skip
    stage = tmp_path / "stage"
    stage_run(stage, model, job, None)
    return stage


def start_detached(transport: SshTransport, stage: Path) -> int:
    """Start the staged agent on the board in a session of its own, as one that outlived its
    connection; return its pid once it is timing."""
    run_dir = Path(transport.run_dir(stage))
    agent = f"exec {PYTHON} -m edgebench_agent job.json"
    start = (  # the session's processes may be ended with it: wait until setsid has run
        f"cd {run_dir} && rm -f agent.pid && (PYTHONPATH={transport.agent_dir(stage)} setsid sh -c "
        f"'echo $$ > agent.pid; {agent}' </dev/null >detached.log 2>&1 &) && "
        "while [ ! -s agent.pid ]; do sleep 0.1; done"
    )
    transport.remote(start, timeout=30)
    deadline = time.monotonic() + 30
    while not list(run_dir.glob("out/run.jsonl.part")) and time.monotonic() < deadline:
        time.sleep(0.2)
    pid = int((run_dir / "agent.pid").read_text())
    assert Path(f"/proc/{pid}").exists(), (run_dir / "detached.log").read_text()
    return pid


def agent_pids(marker: str, board: Board | None = None) -> list[int]:
    """Processes whose command line has `marker`; with `board`, only the board's agents
    themselves (argv `python -m edgebench_agent job.json`, running in the board's folders):
    not the shell that started one, not the host's ssh client carrying that command line,
    and not agents of this machine's other work (a local run, another test session)."""
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    pids = [int(pid) for pid in found.split()]
    if board is None:
        return pids
    agent = [PYTHON, "-m", "edgebench_agent", "job.json"]
    mine = []
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue
        if argv[: len(agent)] == agent and cwd.is_relative_to(board.root):
            mine.append(pid)
    return mine


def test_an_orphaned_agent_on_the_board_is_stopped_before_the_next_run(boards, project, tmp_path):
    """An agent left running on the board (its link dropped, its sshd session kept) holds the
    board lock; the next run of the same project stops it before its own timed window."""
    board = trusted(boards[1])
    project.snakemake("--cores", "2", "--config", "suite=ssh", "devices=board-b")
    transport = SshTransport(board.profile(PYTHON))
    stage = stage_job(board, tmp_path, project.root)
    transport.push(stage, sys.stdout)
    orphan = start_detached(transport, stage)
    for log in (project.root / "results/raw/board-b").glob("layer-conv2d-f32-s1/*/run.jsonl"):
        log.unlink()  # run those again while the orphan holds the board
    project.snakemake("--cores", "2", "--config", "suite=ssh", "devices=board-b")
    assert not Path(f"/proc/{orphan}").exists() or orphan not in agent_pids("edgebench_agent")
    run_logs = "".join(
        p.read_text() for p in (project.root / "results/logs/run/board-b").rglob("*.log")
    )
    assert "stopping an orphaned agent" in run_logs
    for log in (project.root / "results/raw/board-b").glob("layer-conv2d-f32-s1/*/run.jsonl"):
        assert records(log)[-1]["status"] == "complete"


def test_a_run_of_another_project_is_waited_for_never_overlapped(boards, project, tmp_path):
    """The board lock held by another project's agent: the run waits lock_wait_s, then fails
    with who holds the board; the failure is recorded and retried next time."""
    board = trusted(boards[1])
    project.snakemake("--config", "suite=ssh", "devices=board-b")  # the model to run
    transport = SshTransport(board.profile(PYTHON))
    other = {"host": "another-lab-host", "project": "/elsewhere"}
    stage = stage_job(board, tmp_path, project.root, owner=other)
    transport.push(stage, sys.stdout)
    start_detached(transport, stage)
    try:
        project.write_yaml("devices/board-b.yaml", board.profile(PYTHON, lock_wait_s=2))
        for log in (project.root / "results/raw/board-b").glob("layer-fc-128-32/*/run.jsonl"):
            log.unlink()
        result = project.snakemake("--config", "suite=ssh", "devices=board-b", check=False)
        assert result.returncode != 0
        failure = project.root / "results/raw/board-b/layer-fc-128-32/tflite-fp32/failure.json"
        reason = json.loads(failure.read_text())["reason"]
        assert "board is busy" in reason and "another-lab-host:/elsewhere" in reason
        rows = (project.root / "results/tables/results.csv").read_text()
        assert "board is busy" in rows
    finally:
        for pid in agent_pids(f"{PYTHON} -m edgebench_agent job.json", board):
            os.kill(pid, signal.SIGKILL)
        project.write_yaml("devices/board-b.yaml", board.profile(PYTHON))
    time.sleep(0.5)
    project.snakemake("--config", "suite=ssh", "devices=board-b")
    assert not failure.exists()


def test_an_agent_killed_by_a_signal_is_a_failed_run_not_a_broken_link(boards, project, tmp_path):
    from edgebench.devices.dispatch import DeviceFailed, run_on_device

    board = trusted(boards[1])
    project.snakemake("--config", "suite=ssh", "devices=board-b")  # the models to run
    profile = board.profile(PYTHON)
    conversion = project.root / "results/converted/layer-conv2d-f32-s1/tflite-fp32.json"
    job = {
        "device": board.name, "workload": "layer-conv2d-f32-s1", "format": "tflite-fp32",
        "runtime_family": "tflite", "batch_sizes": [1], "threads": 1, "seed": 0,
        "timing": {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 10, "min_s": 30.0,
                   "max_s": 60.0, "max_runs": 10**6},
        "input_range": [-1.0, 1.0],
    }  # fmt: skip

    started = time.time()

    def kill_when_timing() -> None:
        deadline = time.monotonic() + 120
        parts = "runs/*/layer-conv2d-f32-s1/tflite-fp32/*/out/run.jsonl.part"
        while time.monotonic() < deadline:
            # this run's, not a leftover of an agent killed earlier
            if any(part.stat().st_mtime > started for part in board.workdir.glob(parts)):
                time.sleep(0.5)
                for pid in agent_pids(f"{PYTHON} -m edgebench_agent job.json", board):
                    os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_timing, daemon=True)
    killer.start()
    raw = tmp_path / "raw" / "run.jsonl"
    log_path = tmp_path / "run.log"
    with open(log_path, "w") as log, pytest.raises(DeviceFailed) as failed:
        run_on_device(profile, job, conversion, raw, log, stage_root=tmp_path / "stage")
    killer.join()
    # a failed run (its job fails, so the next invocation retries it), no raw log
    assert "killed by SIGKILL" in str(failed.value) and not raw.exists()
    assert "retrying" not in log_path.read_text()


def test_a_dead_board_costs_one_probe_not_one_per_run(boards, project, tmp_path):
    ghost = boards[1].profile(
        PYTHON, name="ghost", host="root@127.0.0.1", port=free_port(), retries=1, backoff_s=1
    )
    ghost["ssh_config"] = str(tmp_path / "empty_config")
    (tmp_path / "empty_config").write_text("")
    project.write_yaml("devices/ghost.yaml", ghost)
    result = project.snakemake("--config", "suite=ssh", "devices=ghost", check=False)
    assert result.returncode != 0
    logs = [p.read_text() for p in (project.root / "results/logs/run/ghost").rglob("*.log")]
    probed = [log for log in logs if "attempt 1 failed" in log]
    skipped = [log for log in logs if "earlier in this run" in log]
    assert len(probed) == 1 and len(skipped) == len(logs) - 1 == 3


def test_two_profiles_of_one_board_never_run_at_the_same_time(boards, project):
    """Two power modes of one board: two profiles, one host, one board resource and lock."""
    board = trusted(boards[1])
    project.write_yaml(
        "devices/board-b-twin.yaml", board.profile(PYTHON, name="board-b-twin", threads=1)
    )
    project.snakemake("--cores", "4", "--config", "suite=ssh", "devices=board-b,board-b-twin")
    spans = []
    for device in ("board-b", "board-b-twin"):
        for log in raw_logs(project, device):
            samples = [r for r in records(log) if r["type"] == "sample"]
            spans.append((samples[0]["start_ns"], samples[-1]["end_ns"], log))
    spans.sort()
    assert len(spans) == 8
    for (_, end, first), (start, _, second) in zip(spans, spans[1:], strict=False):
        assert end < start, f"{first} and {second} overlapped on one board"


def test_power_on_ssh_boards_from_tegrastats_on_the_board_and_a_host_meter(
    boards, project, tmp_path
):
    """board-a runs tegrastats (the emulator, started by the agent on the board); board-b is
    read by a command meter on the host, whose samples reach the board's timeline through the
    clock offset measured over SSH. Both fill power, idle power and energy per inference."""
    from edgebench.testing.meters import command_meter_argv

    # Both print every 10 ms while their profiles declare 50 ms (which sizes the windows):
    # five times the samples a window needs, so a loaded machine's late lines cost none.
    emulator = Path(__file__).with_name("tegrastats_emulator.py")
    wrapper = tmp_path / "tegrastats"
    wrapper.write_text(f'#!/bin/sh\nexec "{PYTHON}" "{emulator}" "$@" --interval 10\n')
    wrapper.chmod(0o755)
    common = {"idle_s": 0.6, "interval_ms": 50}
    powers = {
        "board-a": {"source": "tegrastats", "command": str(wrapper), **common},
        "board-b": {"source": "command", "command": command_meter_argv(3.0, 0.01), **common},
    }
    for board in boards:
        profile = trusted(board).profile(
            PYTHON, name=f"{board.name}-power", power=powers[board.name]
        )
        project.write_yaml(f"devices/{board.name}-power.yaml", profile)
    project.snakemake(
        "--cores", "4", "--config", "suite=ssh", "devices=board-a-power,board-b-power"
    )
    import pandas as pd

    table = pd.read_parquet(project.root / "results" / "tables" / "results.parquet")
    for device, low, high in (("board-a-power", 4.0, 4.9), ("board-b-power", 3.0, 3.0)):
        rows = table[table.device.eq(device) & table.status.eq("ok")]
        assert len(rows) == 4, table[table.device.eq(device)][["status", "reason"]]
        assert rows.power_w.between(low * 0.999, high * 1.001).all(), rows.power_note.tolist()
        assert rows.idle_power_w.between(low * 0.999, high * 1.001).all()
        assert (rows.energy_per_inference_mj > 0).all() and (rows.power_samples >= 10).all()
        on_host = device == "board-b-power"  # placed through the offset measured over SSH
        assert (rows.power_clock_uncertainty_ms > 0).all() == on_host
    meter_log = project.root / "results/raw/board-b-power/layer-fc-128-32/tflite-fp32/meter.jsonl"
    end = json.loads(meter_log.read_text().splitlines()[-1])
    assert end["status"] == "ok" and end["samples"] >= 10


def test_the_board_probe_runs_in_the_boards_python(boards):
    from edgebench.devices.dispatch import probe_runtime

    transport = SshTransport(trusted(boards[1]).profile(PYTHON))
    job = {"device": "board-b", "runtime_family": "onnx", "runtime_module": None}
    assert probe_runtime(transport, job) is None
    missing = probe_runtime(transport, {**job, "runtime_family": "tensorrt"})
    assert "no tensorrt runtime" in missing and "board-b" in missing


# --- one board shared by projects, users and hosts -----------------------------------------


SECOND_USER = "ebt-user2"


def copy_of(project: Project, destination: Path) -> Project:
    """Another checkout's project folder with the same conversions (nothing converted again)."""
    results = shutil.ignore_patterns("raw", "tables", "report", "stage", "logs")
    shutil.copytree(project.root, destination, symlinks=True, ignore=results)
    copy = Project.__new__(Project)
    copy.root = destination
    return copy


def all_spans(projects: list[Project], device: str) -> list[tuple[int, int, Path]]:
    spans = []
    for project in projects:
        for log in raw_logs(project, device):
            samples = [r for r in records(log) if r["type"] == "sample"]
            spans.append((samples[0]["start_ns"], samples[-1]["end_ns"], log))
    return sorted(spans)


@contextlib.contextmanager
def held_board_lock(lock: Path):
    """The board lock held by this test's process, as a run of another lab's host would."""
    from edgebench.agent.boardlock import open_shared

    handle = open_shared(lock)
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    handle.truncate(0)
    owner = {"host": "the-test", "project": "/holding-the-lock"}
    handle.write(json.dumps({"device": "board-b", "owner": owner, "pid": os.getpid()}))
    handle.flush()
    try:
        yield
    finally:
        handle.close()


def wait_until_all_wait_for_the_lock(projects: list[Project], started: list) -> None:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        waiting = [
            any("board lock: waiting for" in log.read_text()
                for log in (each.root / "results/logs/run").rglob("*.log"))
            for each in projects
        ]  # fmt: skip
        if all(waiting):
            return
        ended = [process.poll() is not None for process in started]
        assert not any(ended), f"a workflow ended before it met the lock: {ended}"
        time.sleep(0.5)
    raise AssertionError(f"not every workflow reached the board lock within 900 s: {waiting}")


def test_two_projects_and_two_users_share_one_board_without_overlap_or_collision(
    boards, project, tmp_path
):
    """Three workflows started at once against one board: two project folders of one user,
    and a third as another user of the board (its own login, home and Python). Each run has a
    folder of its own, none is stopped as another's orphan, the board lock is one for every
    user, and no two timed windows overlap."""
    need(os.geteuid() == 0, "a second user of the board needs root (useradd)")
    board = trusted(boards[1])
    alias, python = board.login_as(SECOND_USER)
    project.snakemake("--config", "suite=ssh", "devices=board-b")  # the conversions to copy
    longer = {**SUITE, "timing": {**SUITE["timing"], "min_s": 1.0}}
    others = [copy_of(project, tmp_path / "second"), copy_of(project, tmp_path / "third")]
    workdir = board.root / f"workdir-{SECOND_USER}"
    workdir.mkdir(exist_ok=True)
    shutil.chown(workdir, SECOND_USER)
    second_user = board.profile(python, host=alias, workdir=str(workdir), formats=["tflite-fp32"])
    others[1].write_yaml("devices/board-b.yaml", second_user)
    projects = [project, *others]
    for each in projects:
        each.write_yaml("config/suites/ssh.yaml", longer)
        for log in raw_logs(each, "board-b"):
            log.unlink()
        shutil.rmtree(each.root / "results/logs/run", ignore_errors=True)  # earlier tests' waits
    folders = [board.workdir, workdir]
    before = [set(folder.glob("runs/*/*/*/*")) for folder in folders]  # earlier tests' leftovers
    projects_before = set(board.workdir.glob("runs/*"))
    command = [str(SNAKEMAKE), "--cores", "2", "--config", "suite=ssh", "devices=board-b"]
    lock = Path(board.profile(PYTHON)["lock_dir"]) / "board-machine.lock"
    with held_board_lock(lock):  # so that all three meet on it however slow the machine is
        outputs = [tmp_path / f"workflow-{number}.log" for number in range(len(projects))]
        started = [
            subprocess.Popen(
                command, cwd=each.root, stdout=output.open("w"), stderr=subprocess.STDOUT
            )
            for each, output in zip(projects, outputs, strict=True)
        ]
        wait_until_all_wait_for_the_lock(projects, started)
    for process in started:
        process.wait(timeout=1800)
    outputs = [output.read_text() for output in outputs]
    for process, output in zip(started, outputs, strict=True):
        assert process.returncode == 0, output
    assert [len(raw_logs(each, "board-b")) for each in projects] == [4, 4, 2]
    spans = all_spans(projects, "board-b")
    for (_, end, first), (start, _, second) in zip(spans, spans[1:], strict=False):
        assert end < start, f"{first} and {second} overlapped on one board"
    run_logs = "".join(
        p.read_text() for each in projects for p in (each.root / "results/logs/run").rglob("*.log")
    )
    assert "stopping an orphaned agent" not in run_logs
    assert "board lock: waiting for" in run_logs  # they met on the board and took turns
    for log in (log for each in projects for log in raw_logs(each, "board-b")):
        assert records(log)[-1]["status"] == "complete"
    # one lock for both users, in a folder every user may add to; each run's folder is gone
    lock_dir = Path(board.profile(PYTHON)["lock_dir"])
    assert lock_dir.stat().st_mode & 0o7777 == 0o1777
    assert [p.name for p in lock_dir.iterdir()] == ["board-machine.lock"]
    assert (lock_dir / "board-machine.lock").stat().st_mode & 0o777 == 0o666
    for folder, earlier in zip(folders, before, strict=True):
        assert set(folder.glob("runs/*/*/*/*")) <= earlier
    assert len(set(board.workdir.glob("runs/*")) - projects_before) == 1  # the second project


def test_two_aliases_of_one_board_are_one_board(boards):
    from edgebench.devices.dispatch import board_id, board_resource

    board = trusted(boards[1])
    other_alias = f"{board.name}-again"
    board.alias(other_alias, "root")
    first = board.profile(PYTHON)
    second = board.profile(PYTHON, name="board-b-again", host=other_alias)
    direct = board.profile(PYTHON, name="board-b-direct", host=f"root@{board.address}",
                           port=board.port)  # fmt: skip
    assert board_id(first) == board_id(second) == board_id(direct) == f"127.0.0.1:{board.port}"
    assert board_resource(first) == board_resource(second)


def test_a_board_lock_another_user_cannot_open_is_refused_with_what_the_admin_must_allow(
    boards, project, tmp_path
):
    from edgebench.devices.dispatch import DeviceFailed, run_on_device

    need(os.geteuid() == 0, "a second user of the board needs root (useradd)")
    board = trusted(boards[1])
    alias, python = board.login_as(SECOND_USER)
    project.snakemake("--config", "suite=ssh", "devices=board-b")  # the model to run
    locked = board.root / "admin-only"
    locked.mkdir(mode=0o755, exist_ok=True)  # made by root without write for others
    workdir = board.root / f"workdir-{SECOND_USER}"
    workdir.mkdir(exist_ok=True)
    shutil.chown(workdir, SECOND_USER)
    profile = board.profile(python, host=alias, workdir=str(workdir), lock_dir=str(locked))
    conversion = project.root / "results/converted/layer-fc-128-32/tflite-fp32.json"
    job = {
        "device": board.name, "workload": "layer-fc-128-32", "format": "tflite-fp32",
        "runtime_family": "tflite", "batch_sizes": [1], "threads": 1, "seed": 0,
        "timing": SUITE["timing"], "input_range": [-1.0, 1.0],
    }  # fmt: skip
    with open(tmp_path / "run.log", "w") as log, pytest.raises(DeviceFailed) as failed:
        run_on_device(profile, job, conversion, tmp_path / "run.jsonl", log,
                      stage_root=tmp_path / "stage")  # fmt: skip
    message = str(failed.value)
    assert f"cannot use the board lock {locked}/board-machine.lock" in message
    assert f"as user {SECOND_USER}" in message and f"sudo install -d -m 1777 {locked}" in message


def test_an_agent_whose_link_died_stops_itself_within_the_lifeline_timeout(tmp_path, project):
    """A board whose sshd never checks its clients (OpenSSH's default): the session of a cut
    link lingers there, and with it the agent, unless the agent's heartbeats tell it."""
    need(have_netns(), "cutting a link needs root and ip netns")
    root = Path(tempfile.mkdtemp(prefix="ebt-ssh-"))
    board = Board(Keys(root / "keys"), "board-h", 7, netns=True, client_alive=False).start()
    try:
        board.trust()
        project.snakemake("--config", "suite=ssh", "devices=board-b")  # the model to run
        transport = SshTransport(board.profile(PYTHON, lifeline_timeout_s=6))
        long = {"min_s": 300.0, "max_s": 600.0, "max_runs": 10**9}
        stage = stage_job(board, tmp_path, project.root, lifeline=True, lifeline_timeout_s=6,
                          timing={**SUITE["timing"], **long})  # fmt: skip
        transport.push(stage, sys.stdout)
        failures = []

        def run() -> None:
            with open(tmp_path / "execute.log", "w") as log:
                try:
                    transport.execute(stage, log)
                except SshError as error:
                    failures.append(error)

        running = threading.Thread(target=run, daemon=True)
        running.start()
        lock = Path(board.profile(PYTHON)["lock_dir"]) / "board-machine.lock"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not lock_holder(lock):
            time.sleep(0.2)
        agent = lock_holder(lock)
        assert agent, (tmp_path / "execute.log").read_text()
        board.cut()
        deadline = time.monotonic() + 120  # the timeout is 6 s; the job would run 300 s
        while time.monotonic() < deadline and Path(f"/proc/{agent}").exists():
            time.sleep(0.5)
        assert not Path(f"/proc/{agent}").exists(), "the agent outlived its dead link"
        running.join(timeout=60)
        assert failures and "failed" in str(failures[0])  # ssh's keep-alive gave up
    finally:
        board.stop()
        shutil.rmtree(root, ignore_errors=True)


def lock_holder(lock: Path) -> int | None:
    """The pid of the agent holding `lock`, once it holds it."""
    try:
        holder = json.loads(lock.read_text() or "{}")
    except (OSError, ValueError):
        return None
    return (
        holder.get("pid") if holder.get("pid") and Path(f"/proc/{holder['pid']}").exists() else None
    )


def test_a_master_connection_that_dies_is_reported_in_ssh_s_own_words(boards):
    board_a = boards[0]
    if not board_a.netns:
        need(False, "cutting a link needs root and ip netns (board-a runs on loopback here)")
    transport = SshTransport(trusted(board_a).profile(PYTHON, retries=0))
    transport.remote("true")  # the master connection is up
    cutter = threading.Timer(1.0, board_a.cut)
    cutter.start()
    try:
        with pytest.raises(SshError) as error:
            transport.remote("sleep 30", timeout=120)
    finally:
        cutter.join()
        board_a.restore()
    message = str(error.value)  # the master's "Timeout, server ... not responding", or the
    # retry's own "timed out" when the session fell back to a connection of its own
    assert "said nothing" not in message and "status 255" not in message, message
    assert "not responding" in message or "timed out" in message, message
