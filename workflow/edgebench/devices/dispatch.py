"""Run one converted workload on one device and bring its raw log back.

Whatever happens, the declared output `run.jsonl` ends up complete or absent: an unsupported
conversion or a crashed agent is written as a run with an `end` record saying so.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edgebench.agent.protocol import Timing
from edgebench.agent.runner import RunLog
from edgebench.convert.formats import FORMATS
from edgebench.devices.local import LocalTransport
from edgebench.devices.ssh import SshTransport
from edgebench.devices.staging import stage_run
from edgebench.fileio import read_json
from edgebench.settings.errors import ConfigError

TRANSPORTS = {"local": LocalTransport, "ssh": SshTransport}


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
    transport = transport_for(profile)
    inputs = None
    if dataset is not None:
        with np.load(dataset) as data:
            inputs = data["x_test"]
    stage = stage_root / job["device"] / job["workload"] / job["format"]
    stage_run(stage, conversion.parent / record["model_file"], job, inputs)
    code = transport.run(stage, log)
    try:
        if not (stage / "out" / "run.jsonl").exists():
            write_unrun(raw_log, job, "failed", f"agent exited with code {code} and left no log")
            return "failed"
        return keep_results(stage / "out", raw_log, record["sha256"])
    finally:
        transport.cleanup(stage)


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
