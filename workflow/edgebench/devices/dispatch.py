"""Run one converted workload on one device and bring its raw log back.

Whatever happens, the declared output `run.jsonl` ends up complete or absent: an unsupported
conversion or a crashed agent is written as a run with an `end` record saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edgebench.agent.protocol import Timing
from edgebench.agent.runner import RunLog
from edgebench.convert.formats import FORMATS
from edgebench.devices.local import LocalTransport
from edgebench.devices.ssh import SshError, SshTransport
from edgebench.devices.staging import stage_run
from edgebench.fileio import read_json, write_json
from edgebench.settings.errors import ConfigError

TRANSPORTS = {"local": LocalTransport, "ssh": SshTransport}
FAILURE_FILE = "failure.json"  # beside run.jsonl: why the last attempt could not drive the device
SESSION_VARIABLE = "EDGEBENCH_SESSION"  # one workflow run (set when the Snakefile loads)
BOARD_BUSY, LIFELINE = 73, 75  # agent exit statuses (edgebench.agent.__main__, boardlock)


def board_id(profile: dict) -> str:
    """The physical board a profile drives: its `board` key, else host and port (ssh), else
    this machine (local). Profiles of one board (several power modes of one Jetson) share it."""
    if profile.get("board"):
        return profile["board"]
    if profile["transport"] == "local":
        return "localhost"
    if profile["transport"] == "ssh":
        return f"{profile['host']}:{profile.get('port', 22)}"
    return profile["name"]


def board_file_name(profile: dict) -> str:
    """The board id as a file name (the board lock's)."""
    return re.sub(r"[^\w.-]", "_", board_id(profile))


def board_resource(profile: dict) -> str:
    """The Snakemake resource (capacity 1) that serialises the runs on one board."""
    return "board_" + re.sub(r"\W", "_", board_id(profile))


def transport_for(profile: dict):
    kind = profile["transport"]
    if kind not in TRANSPORTS:
        raise ConfigError(
            f"device {profile['name']!r} uses transport {kind!r}, which this edgebench version "
            f"cannot drive yet (available: {', '.join(TRANSPORTS)}); remove it from 'devices'"
        )
    return TRANSPORTS[kind](profile)


def run_settings(profile: dict, suite: dict) -> dict:
    """Timing (every key, defaults filled in) and threads of a device's runs: the profile's
    values over the suite's. Threads None: the agent uses the device's core count."""
    merged = {**suite.get("timing", {}), **profile.get("timing", {})}
    try:
        timing = Timing.from_dict(merged)
    except ValueError as error:
        raise ConfigError(f"device {profile['name']!r}: {error}") from None
    problems = timing.problems()
    if problems:
        raise ConfigError(
            f"device {profile['name']!r}: the timing settings (suite, then devices/"
            f"{profile['name']}.yaml) contradict each other: {'; '.join(problems)}"
        )
    return {"timing": asdict(timing), "threads": profile.get("threads") or suite.get("threads")}


def job_settings(profile: dict, suite: dict, meta: dict, format_name: str) -> dict:
    """What the agent needs, from the suite, the device's overrides and the workload."""
    is_model = meta["group"] == "models"
    return {
        "device": profile["name"],
        "workload": meta["workload"],
        "format": format_name,
        "family": FORMATS[format_name].family,
        "batch_sizes": suite["batch_sizes"] if is_model else [1],
        **run_settings(profile, suite),
        "seed": suite["seed"],
        "input_range": meta["input_range"],
    }


def write_unrun(raw_log: Path, job: dict, status: str, reason: str) -> None:
    log = RunLog(raw_log)
    log.write({"type": "header", "format_version": 1, **job})
    log.end(status, reason)


class DeviceFailed(RuntimeError):
    """The device could not be driven (unreachable, link lost, changed host key, board busy):
    the job fails, so the run is tried again next time; `failure.json` keeps the reason."""


def run_on_device(
    profile: dict,
    job: dict,
    conversion: Path,
    raw_log: Path,
    log,
    dataset: Path | None = None,
    stage_root: Path = Path("results/stage"),
) -> str:
    record = read_json(conversion)
    if record["status"] != "ok":
        reason = f"conversion {record['status']}: {record['reason']}"
        write_unrun(raw_log, job, "unsupported", reason)
        return "unsupported"
    failure = raw_log.with_name(FAILURE_FILE)
    try:
        status = drive(profile, job, conversion, record, raw_log, log, dataset, stage_root)
    except DeviceFailed as error:
        write_json(failure, {**identity(job), "status": "failed", "reason": str(error)})
        raise
    failure.unlink(missing_ok=True)
    return status


def drive(profile, job, conversion, record, raw_log, log, dataset, stage_root) -> str:
    """Stage, run through the device's transport, verify and keep what came back."""
    transport = transport_for(profile)
    down = unreachable_note(stage_root, job["device"])
    if down:
        raise DeviceFailed(
            f"{down} (earlier in this run; the device's other runs are not tried again: "
            "fix the connection and run the workflow again)"
        )
    job = {
        **job,
        "board_lock": transport.board_lock(board_file_name(profile)),
        "lock_wait_s": profile.get("lock_wait_s", 3600),
        "owner": {"host": socket.gethostname(), "project": str(Path.cwd().resolve())},
        "lifeline": True,
    }
    inputs = None
    if dataset is not None:
        with np.load(dataset) as data:
            inputs = data["x_test"]
    # a stage of its own: a leftover job of a killed workflow never shares (or deletes) it
    stage = stage_root / job["device"] / job["workload"] / job["format"] / f"job-{os.getpid()}"
    stage_run(stage, conversion.parent / record["model_file"], job, inputs)
    try:
        try:
            code = transport.run(stage, log)
        except SshError as error:
            mark_unreachable(stage_root, job["device"], str(error))
            raise DeviceFailed(str(error)) from None
        if code == BOARD_BUSY:
            raise DeviceFailed(f"device {job['device']!r}: {last_line(log, 'board busy')}")
        if not (stage / "out" / "run.jsonl").exists():
            write_unrun(raw_log, job, "failed", exit_reason(code))
            return "failed"
        return keep_results(stage / "out", raw_log, record["sha256"])
    finally:
        transport.cleanup(stage)


def identity(job: dict) -> dict:
    return {key: job[key] for key in ("device", "workload", "format")}


def exit_reason(code: int) -> str:
    """What an agent's exit status says, for a run that left no log."""
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number:
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        hint = " (the kernel's out-of-memory killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"the agent was killed by {name}{hint} and left no log"
    if code == LIFELINE:
        return "the agent stopped because the host side went away (its lifeline closed)"
    return f"the agent exited with code {code} and left no log; see the job's log"


def last_line(log, prefix: str) -> str:
    """The agent's last output line starting with `prefix` (from the job's log file)."""
    try:
        lines = Path(log.name).read_text(errors="replace").splitlines()
    except (AttributeError, OSError):
        return prefix
    return next((line for line in reversed(lines) if line.startswith(prefix)), prefix)


def unreachable_note(stage_root: Path, device: str) -> str | None:
    """The connection error this workflow run already hit on `device`, if any."""
    path = stage_root / "unreachable" / f"{device}.json"
    session = os.environ.get(SESSION_VARIABLE)
    if not session or not path.exists():
        return None
    note = read_json(path)
    return note["error"] if note.get("session") == session else None


def mark_unreachable(stage_root: Path, device: str, error: str) -> None:
    session = os.environ.get(SESSION_VARIABLE)
    if session:
        write_json(
            stage_root / "unreachable" / f"{device}.json", {"session": session, "error": error}
        )


def keep_results(out: Path, raw_log: Path, model_sha256: str) -> str:
    """Verify what came back, then move it beside the declared output (run.jsonl last)."""
    records = [json.loads(line) for line in (out / "run.jsonl").read_text().splitlines()]
    header, end = records[0], records[-1]
    if header.get("type") != "header" or end.get("type") != "end":
        raise RuntimeError(f"{out / 'run.jsonl'} came back incomplete")
    if header["model"]["sha256"] != model_sha256:
        raise RuntimeError(f"the device ran a different model than {raw_log.parent} asked for")
    raw_log.parent.mkdir(parents=True, exist_ok=True)
    for name in ("accuracy.npz", "run.jsonl"):
        if (out / name).exists():
            partial = raw_log.parent / f".{name}.part"
            shutil.copy2(out / name, partial)
            partial.replace(raw_log.parent / name)
    return end["status"]
