"""SSH dispatch against real OpenSSH servers playing boards (see ssh_boards.py)."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import Project, need
from edgebench.devices.ssh import HostKeyError, SshError, SshTransport
from edgebench.devices.testboard import Board, Keys, free_port, have_netns

pytestmark = pytest.mark.integration
PYTHON = sys.executable  # the boards share this machine's file system, so this Python too

SUITE = {
    "description": "ssh test suite",
    "weights": "random",
    "workloads": ["layer-fc-128-32", "layer-conv2d-f32-s1"],
    "formats": ["tflite-fp32", "onnx-fp32"],
    "calibration_samples": 4,
    "batch_sizes": [1],
    "timing": {"warmup_runs": 2, "warmup_s": 0.0, "min_runs": 20, "min_s": 0.2, "max_s": 5.0},
}


@pytest.fixture(scope="module")
def boards(tmp_path_factory):
    need(Path("/usr/sbin/sshd").exists(), "needs Debian's openssh-server (/usr/sbin/sshd)")
    keys = Keys(tmp_path_factory.mktemp("ssh"))
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
    # resumed without the dead board: nothing already measured runs again
    jobs = project.planned_jobs("--config", "suite=ssh", "devices=board-b")
    assert jobs == {"tables": 1, "report": 1, "all": 1}


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
            if list(board_a.workdir.glob("runs/layer-conv2d-f32-s1/*/out/run.jsonl.part")):
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
