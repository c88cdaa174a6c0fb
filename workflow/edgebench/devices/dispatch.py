"""Run one converted workload on one device and bring its raw log back.

Whatever happens, the declared output `run.jsonl` ends up complete or absent: an unsupported
conversion or a crashed agent is written as a run with an `end` record saying so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from edgebench.agent.runner import RunLog
from edgebench.convert.formats import FORMATS
from edgebench.devices.local import LocalTransport
from edgebench.devices.staging import stage_run
from edgebench.fileio import read_json
from edgebench.settings.errors import ConfigError

TRANSPORTS = {"local": LocalTransport}


def board_resource(device: str) -> str:
    """The Snakemake resource (capacity 1) that serialises the runs of one device."""
    return "board_" + re.sub(r"\W", "_", device)


def transport_for(profile: dict):
    kind = profile["transport"]
    if kind not in TRANSPORTS:
        raise ConfigError(
            f"device {profile['name']!r} uses transport {kind!r}, which this edgebench version "
            f"cannot drive yet (available: {', '.join(TRANSPORTS)}); remove it from 'devices'"
        )
    return TRANSPORTS[kind](profile)


def job_settings(profile: dict, suite: dict, meta: dict, format_name: str) -> dict:
    """What the agent needs, from the suite, the device's overrides and the workload."""
    is_model = meta["group"] == "models"
    return {
        "device": profile["name"],
        "workload": meta["workload"],
        "format": format_name,
        "family": FORMATS[format_name].family,
        "batch_sizes": suite["batch_sizes"] if is_model else [1],
        "timing": {**suite.get("timing", {}), **profile.get("timing", {})},
        "threads": profile.get("threads"),
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
    job_file = stage_run(stage, conversion.parent / record["model_file"], job, inputs)
    code = transport.execute(stage, job_file, log)
    raw_log.parent.mkdir(parents=True, exist_ok=True)
    transport.fetch(stage, raw_log.parent)
    transport.cleanup(stage)
    if not raw_log.exists():
        write_unrun(raw_log, job, "failed", f"agent exited with code {code} and left no log")
        return "failed"
    return read_end_status(raw_log)


def read_end_status(raw_log: Path) -> str:
    last = raw_log.read_text().rstrip("\n").rsplit("\n", 1)[-1]
    return json.loads(last)["status"]
