"""Run one converted workload on one device and bring its raw log back.

Whatever happens, the declared output `run.jsonl` ends up complete or absent: an unsupported
conversion or a crashed agent is written as a run with an `end` record saying so.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import socket
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from edgebench import paths
from edgebench.agent.boardlock import BOARD_BUSY_EXIT, LIFELINE_EXIT, LOCK_REFUSED_EXIT
from edgebench.agent.powerlog import METER_LOG, POWER_LOG
from edgebench.agent.protocol import Timing
from edgebench.agent.runtimes import REGISTRY as RUNTIMES
from edgebench.devices import engine_cache
from edgebench.devices.ssh import SshError
from edgebench.devices.staging import stage_group, stage_run
from edgebench.devices.transport import Transport, transport_class
from edgebench.fileio import read_conversion_record, read_json, sha256_file, write_json
from edgebench.formats import FORMATS
from edgebench.power import lengthened, on_this_machine, power_settings
from edgebench.power.host import host_meter, log_file
from edgebench.rawlog import read_run, write_unrun
from edgebench.settings.errors import ConfigError

SESSION_VARIABLE = "EDGEBENCH_SESSION"  # one workflow run (set when the Snakefile loads)
FAILED_LOG = "run.failed.jsonl"  # the log of a run that came back failed (its job fails)
INTERLEAVED = "interleaved"  # the suite's `schedule` that times a workload's formats in rounds
INTERLEAVE_ORDER = "alternating"  # round r: the formats in order (r even) or reversed (r odd)


# Profile keys that change how a device is reached or described, never what it measures:
# editing them reruns nothing (the run rule's rerun trigger is `measurement_settings`).
NOT_MEASURED = (
    "description", "retries", "backoff_s", "connect_timeout_s", "alive_interval_s",
    "alive_count", "reuse_connection", "lock_wait_s", "banner_wait_s", "command_timeout_s",
    "lock_dir", "lifeline_timeout_s",
)  # fmt: skip


def measurement_settings(profile: dict) -> dict:
    """The profile's keys that can change a measurement."""
    return {key: value for key, value in profile.items() if key not in NOT_MEASURED}


def board_id(profile: dict) -> str:
    """The physical board a profile drives: its `board` key, else what its transport says
    (ssh: host name and port as ssh resolves them; local: this machine). Profiles of one board
    (several power modes of one Jetson) share it."""
    return profile.get("board") or transport_class(profile).board_id(profile)


def board_lock_name(profile: dict) -> str:
    """The board lock's name on the device: the profile's `board`, else the whole machine
    (however the host reaches it); a local run and an ssh run to this machine share it."""
    return re.sub(r"[^\w.-]", "_", profile.get("board") or "machine")


def board_resource(profile: dict) -> str:
    """The Snakemake resource (capacity 1) that serialises the runs on one board."""
    return "board_" + re.sub(r"\W", "_", board_id(profile))


def transport_for(profile: dict) -> Transport:
    return transport_class(profile)(profile)


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
    settings = run_settings(profile, suite)
    power = power_settings(profile["power"])
    if transport_class(profile).runs_here:
        power = on_this_machine(power)
    timing = settings["timing"] = lengthened(settings["timing"], power)
    if not timing["processes"]:  # several processes for models, where the drift matters;
        # interleaved rounds for every workload (a paired ratio needs more than one round)
        interleaved = suite.get("schedule") == INTERLEAVED
        timing["processes"] = 3 if is_model or interleaved else 1
    return {
        "device": profile["name"],
        "workload": meta["workload"],
        "format": format_name,
        "runtime_family": FORMATS[format_name].runtime,
        # the module the profile names for this family (None: the agent's first that imports)
        "runtime_module": profile.get("runtimes", {}).get(FORMATS[format_name].runtime),
        "runtime_options": runtime_options(profile, format_name),
        "batch_sizes": suite["batch_sizes"] if is_model else [1],
        **settings,
        "processes": timing["processes"],
        "seed": suite["seed"],
        "input_range": meta["input_range"],
        "power": power,
    }


def runtime_options(profile: dict, format_name: str) -> dict:
    """The profile's settings of this format's runtime (the keys its agent runtime declares,
    `Runtime.options`), and the format's precision."""
    fmt = FORMATS[format_name]
    runtime = RUNTIMES.entries().get(fmt.runtime)
    keys = runtime.options if runtime is not None else {}
    return {"precision": fmt.precision, **{k: profile[k] for k in keys if k in profile}}


class DeviceFailed(RuntimeError):
    """The device could not be driven (unreachable, link lost, changed host key, board busy)
    or the run failed on it (a crashed agent, no batch size ran): the job fails, so the run
    is tried again next time; `failure.json` keeps the reason."""


def run_on_device(
    profile: dict,
    job: dict,
    conversion: Path,
    raw_log: Path,
    log,
    dataset: Path | None = None,
    stage_root: Path | None = None,
) -> str:
    record = read_conversion_record(conversion)
    if record["status"] != "ok":
        reason = f"conversion {record['status']}: {record['reason']}"
        write_unrun(raw_log, job, "unsupported", reason)
        return "unsupported"
    failure = Path(paths.failure_record(job["device"], job["workload"], job["format"]))
    stage_root = Path(stage_root or paths.stage_root())
    try:
        status = drive(profile, job, conversion, record, raw_log, log, dataset, stage_root)
    except DeviceFailed as error:
        write_json(failure, {**identity(job), "status": "failed", "reason": str(error)})
        raise
    failure.unlink(missing_ok=True)
    raw_log.with_name(FAILED_LOG).unlink(missing_ok=True)  # a failed attempt's, now redone
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
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    job = {
        **job,
        "run_id": run_id,
        "board_lock": transport.board_lock(board_lock_name(profile)),
        "lock_wait_s": profile.get("lock_wait_s", 3600),
        "owner": run_owner(),
        "lifeline": True,
        "lifeline_timeout_s": transport.lifeline_timeout_s,
    }
    inputs = None
    if dataset is not None:
        with np.load(dataset) as data:
            inputs = data["x_test"]
    try:  # a board running firmware has no Python to probe
        missing = probe_runtime(transport, job) if transport.stages_agent else None
    except SshError:  # the run's own connection, with its retries, decides about the link
        missing = None
    if missing:  # decided before the model is shipped
        write_unrun(raw_log, job, "unsupported", missing)
        return "unsupported"
    # a stage of its own: a leftover job of a killed workflow never shares (or deletes) it
    stage = stage_root / job["device"] / job["workload"] / job["format"] / f"job-{run_id}"
    model = conversion.parent / record["model_file"]
    companions = [conversion.parent / name for name in record.get("files", {})]
    companions = [path for path in companions if path != model]
    companions += engine_cache.engine_files_to_stage(job, record)  # a TensorRT engine built before
    stage_run(stage, model, job, inputs, companions, with_agent=transport.stages_agent)
    meter_folder = stage.with_name(f"{stage.name}.meter")  # the host's, never sent to the board
    try:
        try:
            agent_log = log_file(log) if transport.stages_agent else None
            with host_meter(job.get("power"), meter_folder, agent_log) as meter_log:
                code = transport.run(stage, log)
        except SshError as error:
            mark_unreachable(stage_root, job["device"], str(error))
            raise DeviceFailed(str(error)) from None
        if code == BOARD_BUSY_EXIT:
            raise DeviceFailed(f"device {job['device']!r}: {last_line(log, 'board busy')}")
        if code == LOCK_REFUSED_EXIT:
            raise DeviceFailed(f"device {job['device']!r}: {last_line(log, 'board lock refused')}")
        if not (stage / "out" / "run.jsonl").exists():  # a crashed agent: worth a retry
            raise DeviceFailed(f"device {job['device']!r}: {exit_reason(code)}")
        status = keep_results(stage / "out", raw_log, record["sha256"], meter_log)
        if status == "failed":
            raise DeviceFailed(f"device {job['device']!r}: {set_aside_failed_run(raw_log)}")
        engine_cache.keep_engine(job, record, raw_log.parent)
        return status
    finally:
        transport.cleanup(stage)
        shutil.rmtree(meter_folder, ignore_errors=True)


def run_interleaved_on_device(
    profile: dict,
    jobs: dict[str, dict],
    conversions: dict[str, Path],
    raw_logs: dict[str, Path],
    log,
    dataset: Path | None = None,
    stage_root: Path | None = None,
    reference: str | None = None,
) -> dict[str, str]:
    """Run every format of one workload on one device in one interleaved job (schedule
    `interleaved`, edgebench_agent.interleave): each format's raw log as a sequential run
    writes it, its header's `schedule` naming the group, its formats, the order, the rounds
    and the reference format of the paired speed-ups. Returns each format's status; raises
    DeviceFailed (after keeping what came back) when the device failed or a format failed."""
    statuses, records = {}, {}
    for name, job in jobs.items():
        records[name] = read_conversion_record(conversions[name])
        if records[name]["status"] != "ok":
            reason = f"conversion {records[name]['status']}: {records[name]['reason']}"
            write_unrun(raw_logs[name], job, "unsupported", reason)
            statuses[name] = "unsupported"
    members = [name for name in jobs if name not in statuses]
    if not members:
        return statuses
    first = jobs[members[0]]
    stage_root = Path(stage_root or paths.stage_root())
    try:
        statuses.update(
            drive_group(
                profile,
                jobs,
                members,
                conversions,
                records,
                raw_logs,
                log,
                dataset,
                stage_root,
                reference,
            )  # fmt: skip
        )
    except DeviceFailed as error:
        for name in members:  # the job fails: Snakemake removes all of its outputs
            failure = paths.failure_record(first["device"], first["workload"], name)
            write_json(Path(failure), {**identity(jobs[name]), "status": "failed",
                                       "reason": str(error)})  # fmt: skip
        raise
    for name in members:
        Path(paths.failure_record(first["device"], first["workload"], name)).unlink(missing_ok=True)
        raw_logs[name].with_name(FAILED_LOG).unlink(missing_ok=True)
    return statuses


def drive_group(
    profile, jobs, members, conversions, records, raw_logs, log, dataset, stage_root, reference
):
    """`drive` for an interleaved group: probe each format's runtime, stage them all in one
    stage, run the agent once through the device's transport, keep each format's results."""
    transport = transport_for(profile)
    if not transport.stages_agent:  # refused at load (settings.plan); said again here
        raise DeviceFailed(
            f"device {profile['name']!r}: transport {profile['transport']!r} runs no agent, "
            "so it cannot interleave formats; use schedule: sequential"
        )
    first = jobs[members[0]]
    down = unreachable_note(stage_root, first["device"])
    if down:
        raise DeviceFailed(
            f"{down} (earlier in this run; the device's other runs are not tried again: "
            "fix the connection and run the workflow again)"
        )
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    common = {
        "run_id": run_id,
        "board_lock": transport.board_lock(board_lock_name(profile)),
        "lock_wait_s": profile.get("lock_wait_s", 3600),
        "owner": run_owner(),
        "lifeline": True,
        "lifeline_timeout_s": transport.lifeline_timeout_s,
    }
    inputs = None
    if dataset is not None:
        with np.load(dataset) as data:
            inputs = data["x_test"]
    statuses, runnable = {}, []
    for name in members:
        try:
            missing = probe_runtime(transport, jobs[name])
        except SshError:  # the run's own connection, with its retries, decides
            missing = None
        if missing:
            write_unrun(raw_logs[name], jobs[name], "unsupported", missing)
            statuses[name] = "unsupported"
        else:
            runnable.append(name)
    if not runnable:
        return statuses
    rounds = jobs[runnable[0]]["processes"]
    schedule = {
        "name": INTERLEAVED,
        "group": f"{first['device']}/{first['workload']}/{run_id}",
        "formats": runnable,
        "order": INTERLEAVE_ORDER,
        "rounds": rounds,
        "reference": reference,
    }
    staged = {}
    for name in runnable:
        record = records[name]
        job = {**jobs[name], **common, "schedule": schedule}
        model = conversions[name].parent / record["model_file"]
        companions = [model.parent / file for file in record.get("files", {})]
        companions = [path for path in companions if path != model]
        companions += engine_cache.engine_files_to_stage(job, record)
        staged[name] = {"model": model, "job": job, "inputs": inputs, "companions": companions}
    group_job = {
        "device": first["device"],
        "workload": first["workload"],
        "format": INTERLEAVED,
        "formats": runnable,
        **common,
        "power": first.get("power"),
        "interleaved": {"rounds": rounds, "order": INTERLEAVE_ORDER},
    }
    stage = stage_root / first["device"] / first["workload"] / INTERLEAVED / f"job-{run_id}"
    stage_group(stage, group_job, staged)
    meter_folder = stage.with_name(f"{stage.name}.meter")
    failed = []
    try:
        try:
            agent_log = log_file(log)
            with host_meter(first.get("power"), meter_folder, agent_log) as meter_log:
                code = transport.run(stage, log)
        except SshError as error:
            mark_unreachable(stage_root, first["device"], str(error))
            raise DeviceFailed(str(error)) from None
        if code == BOARD_BUSY_EXIT:
            raise DeviceFailed(f"device {first['device']!r}: {last_line(log, 'board busy')}")
        if code == LOCK_REFUSED_EXIT:
            raise DeviceFailed(
                f"device {first['device']!r}: {last_line(log, 'board lock refused')}"
            )
        for name in runnable:
            out = stage / "out" / name
            if not (out / "run.jsonl").exists():
                failed.append(f"{name}: {exit_reason(code)}")
                continue
            statuses[name] = keep_results(out, raw_logs[name], records[name]["sha256"], meter_log)
            if statuses[name] == "failed":
                failed.append(f"{name}: {set_aside_failed_run(raw_logs[name])}")
                continue
            engine_cache.keep_engine(staged[name]["job"], records[name], raw_logs[name].parent)
    finally:
        transport.cleanup(stage)
        shutil.rmtree(meter_folder, ignore_errors=True)
    if failed:
        raise DeviceFailed(
            f"device {first['device']!r}, workload {first['workload']!r} (interleaved: its "
            f"formats are measured together and run again together): {'; '.join(failed)}"
        )
    return statuses


# Which of the given modules the device's Python can import, with their distributions' versions.
PROBE = """
import importlib.metadata, importlib.util, json, sys
found = {}
for name in sys.argv[1:]:
    if importlib.util.find_spec(name) is None:
        continue
    try:
        found[name] = importlib.metadata.version(name.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        found[name] = "unknown"
print(json.dumps(found))
"""


def probe_runtime(transport: Transport, job: dict) -> str | None:
    """Why the device cannot run this format (None when it can): none of the modules of its
    runtime family (or the one the profile names) imports in the device's Python."""
    family = job["runtime_family"]
    runtime = RUNTIMES.entries().get(family)
    modules = list(runtime.modules) if runtime is not None else []
    if job.get("runtime_module"):
        modules = [job["runtime_module"]]
    if not modules:
        return None
    reply = transport.run_python(PROBE, *modules)
    try:
        found = json.loads(reply.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return None  # a probe that says nothing decides nothing: the agent will tell
    if found:
        return None
    python = getattr(transport, "python", "python")
    return (
        f"the board probe found no {family} runtime: none of {', '.join(modules)} imports in "
        f"{python} on device {job['device']!r}; install one there (e.g. pip install "
        f"{modules[0].replace('_', '-')}) or remove the format from the profile's formats"
    )


def run_owner() -> dict:
    """Who starts a run: an agent of the same host, project and user holding the board is an
    orphan of this project; any other is waited for."""
    return {"host": socket.gethostname(), "project": str(Path.cwd().resolve()),
            "user": getpass.getuser()}  # fmt: skip


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
    if code == LIFELINE_EXIT:
        return "the agent stopped because the host side went away (its lifeline closed)"
    return f"the agent exited with code {code} and left no log; see the job's log"


def set_aside_failed_run(raw_log: Path) -> str:
    """A run that came back `failed`: its log moves to run.failed.jsonl (for reading; no
    output of the workflow), and the reason says why, with the first failed batch's reason."""
    run = read_run(raw_log)
    batch = next((r for r in run.batches if r["status"] != "ok"), {})
    reason = run.end.get("reason", "")
    if batch:
        reason = f"{reason} (batch {batch.get('batch')}: {batch.get('reason', '')})"
    kept = raw_log.with_name(FAILED_LOG)
    raw_log.replace(kept)
    return f"the run failed: {reason}; its log is {kept}"


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


def keep_results(out: Path, raw_log: Path, model_sha256: str, meter_log: Path | None = None) -> str:
    """Verify what came back (a complete log of the model asked for, and every other file the
    device wrote into its out folder, each against the hash the end record lists), then move
    it beside the declared output, with the host meter's log, each file atomically and
    run.jsonl last; a power log of an earlier run that this one did not write is removed."""
    try:
        run = read_run(out / "run.jsonl")
    except ValueError as error:
        raise RuntimeError(f"the run log came back incomplete or inconsistent: {error}") from None
    header, end = run.header, run.end
    if header["model"]["sha256"] != model_sha256:
        raise RuntimeError(f"the device ran a different model than {raw_log.parent} asked for")
    listed = end.get("files", {})
    others = sorted(p for p in out.iterdir() if p.is_file() and p.name != "run.jsonl")
    for path in others:
        if path.name not in listed or sha256_file(path) != listed[path.name]:
            raise RuntimeError(
                f"{path} came back without the hash the run's end record lists for it: "
                "incomplete or not written by this run"
            )
    raw_log.parent.mkdir(parents=True, exist_ok=True)
    kept = [*others, *([meter_log] if meter_log else []), out / "run.jsonl"]
    for stale in (POWER_LOG, METER_LOG):
        if stale not in {path.name for path in kept}:
            (raw_log.parent / stale).unlink(missing_ok=True)
    for path in kept:
        partial = raw_log.parent / f".{path.name}.part"
        shutil.copy2(path, partial)
        partial.replace(raw_log.parent / path.name)
    return end["status"]
