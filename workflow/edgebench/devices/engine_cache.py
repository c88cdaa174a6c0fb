"""TensorRT engines built on the devices, kept on the host for the next run on a board like it.

An engine only runs where it was built: it is specific to the ONNX model, the board's GPU and
image, the TensorRT version and the build's settings, and is named by all of them
(edgebench.convert.trtexec.engine_cache_key):

    results/engines/<ab>/<key>.engine       the serialized engine
    results/engines/<ab>/<key>.facts        the agent's record of it (engine.json)
    results/engines/devices/<device>.json   the board facts last seen from the device

Around a run of a tensorrt-* format built on the device, the dispatcher calls:
- `engine_files_to_stage` before staging: the cached engine and its record for this device,
  staged beside the ONNX model (as model.engine and model.facts); nothing for a device never
  seen or an engine not cached yet. The agent takes it only if its record matches the board.
- `keep_engine` once the run's files are kept: the engine the agent built moves into the cache,
  atomically, if its hash is the one the run's end record lists and the agent's record states.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from edgebench import paths
from edgebench.agent.runtimes.tensorrt import WORKSPACE_OPTION
from edgebench.agent.tensorrt_build import (
    BOARD_FACTS,
    CACHED_RECORD_SUFFIX,
    ENGINE_FILE,
    ENGINE_RECORD,
    GPU_FACTS,
)
from edgebench.convert.trtexec import engine_cache_key, engine_cache_path
from edgebench.fileio import (
    atomic_path,
    read_engine_device,
    read_json,
    sha256_file,
    write_engine_device,
    write_json,
)
from edgebench.rawlog import read_end

RUN_LOG = "run.jsonl"


def cache_key(identity: dict) -> str:
    """The cache key of an engine from its identity (agent.tensorrt_build.engine_identity)."""
    return engine_cache_key(
        identity["onnx_sha256"],
        identity,
        identity["tensorrt"],
        identity["precision"],
        identity.get("dla_core"),
        max_batch=identity.get("max_batch"),
        workspace_mb=identity.get("workspace_mb"),
    )


def last_seen(device: str) -> dict | None:
    """{"facts", "tensorrt"} of the device's last engine record, or None (never seen, or a
    record this edgebench cannot read: said in the job's log; the run writes it again)."""
    path = Path(paths.engine_device_facts(device))
    if not path.is_file():
        return None
    try:
        return read_engine_device(path)
    except (OSError, ValueError) as error:
        print(f"TensorRT engine cache: {error}", flush=True)
        return None


def remember_device(device: str, identity: dict) -> None:
    facts = {key: identity.get(key) for key in BOARD_FACTS + GPU_FACTS}
    write_engine_device(
        paths.engine_device_facts(device), {"facts": facts, "tensorrt": identity["tensorrt"]}
    )


def engine_files_to_stage(job: dict, record: dict) -> list[Path]:
    """The cached engine and its record for this run's device, model and settings, to stage
    beside the model; [] where the engine is built on the host, the device was never seen, or
    no engine fits it yet."""
    build = record.get("build") or {}
    seen = last_seen(job["device"])
    if build.get("build_on") != "device" or seen is None:
        return []
    options = job.get("runtime_options") or {}
    identity = {
        **seen["facts"],
        "tensorrt": seen["tensorrt"],
        "onnx_sha256": record["sha256"],
        "precision": build["precision"],
        "max_batch": build["max_batch"],
        "dla_core": options.get("dla_core"),
        "workspace_mb": options.get(WORKSPACE_OPTION),
    }
    engine = engine_cache_path(paths.engine_cache_root(), cache_key(identity))
    facts = engine.with_suffix(CACHED_RECORD_SUFFIX)
    return [engine, facts] if engine.is_file() and facts.is_file() else []


def returned_record(raw_dir: Path) -> tuple[dict | None, dict]:
    """(the engine record this run wrote, the files its end record lists); None where this
    run wrote none (a file left by an earlier run is not listed with its hash)."""
    listed = read_end(raw_dir / RUN_LOG).get("files") or {}
    path = raw_dir / ENGINE_RECORD
    if not path.is_file() or listed.get(ENGINE_RECORD) != sha256_file(path):
        return None, listed
    return read_json(path), listed


def engine_problem(info: dict, raw_dir: Path, listed: dict, record: dict) -> str | None:
    """Why the engine that came back must not enter the cache, or None."""
    engine = raw_dir / ENGINE_FILE
    if not engine.is_file():
        return f"{engine} is missing"
    digest = sha256_file(engine)
    if listed.get(ENGINE_FILE) != digest:
        return f"{engine} is not the file the run's end record lists (incomplete or stale)"
    if digest != info.get("engine_sha256") or engine.stat().st_size != info.get("engine_bytes"):
        return f"{engine} is not the engine the agent's record describes (incomplete or altered)"
    if info["identity"].get("onnx_sha256") != record["sha256"]:
        return "it was built from another ONNX model than this conversion's"
    return None


def keep_engine(job: dict, record: dict, raw_dir: Path) -> Path | None:
    """Move the engine this run built (raw_dir/engine.plan) into the cache and remember the
    device's facts; the cached engine's path, or None (nothing built, or refused: the reason
    is printed to the job's log)."""
    info, listed = returned_record(raw_dir)
    if info is None:
        return None
    remember_device(job["device"], info["identity"])
    if info.get("origin") != "built":
        return None
    problem = engine_problem(info, raw_dir, listed, record)
    if problem:
        print(f"TensorRT engine not cached: {problem}", flush=True)
        return None
    target = engine_cache_path(paths.engine_cache_root(), cache_key(info["identity"]))
    try:
        copy_verified(raw_dir / ENGINE_FILE, target, info["engine_sha256"])
    except OSError as error:  # the run stands; only the cache misses this engine
        print(f"TensorRT engine not cached: {error}", flush=True)
        return None
    # the record last: an engine without its record is never staged
    write_json(target.with_suffix(CACHED_RECORD_SUFFIX), {**info, "engine_file": target.name})
    os.unlink(raw_dir / ENGINE_FILE)
    return target


def copy_verified(source: Path, target: Path, sha256: str) -> None:
    """Copy `source` to `target` atomically, replacing it only if the copy has `sha256`."""
    with atomic_path(target) as partial:
        shutil.copyfile(source, partial)
        if sha256_file(partial) != sha256:
            raise OSError(f"the copy of {source} into {target.parent} came out different")
