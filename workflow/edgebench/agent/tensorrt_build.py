"""Building a TensorRT engine on the device from the ONNX model the conversion wrote.

Device code, copied to the board with the agent: the standard library and the `tensorrt` module
the runtime hands in. Nothing here imports TensorRT itself, so the decisions (the precision path
per TensorRT version, the batch profile, whether an engine fits this board) are plain functions.

The precision path, from the TensorRT version found (edgebench.convert.trtexec.precision_path
is the host's twin):
- 10 and older (weak typing): the fp32 model, with the FP16 builder flag for fp16; the Q/DQ
  model (calibrated on the workload's data at conversion) with the INT8 flag for int8. Before
  10 the network is created with EXPLICIT_BATCH, which the ONNX parser needs there.
- 11 and newer: strong typing only (the precision flags are gone): the precision comes from the
  model's own types, so fp16 needs an ONNX model already cast to fp16. The conversion does not
  write one, so fp16 there is refused (BuildRefused: the format is unsupported on the board).

Files, as staged (edgebench.devices.staging names the model and its companions `model.*`):
    model.onnx      the build input;   model.json   its build spec (precision, model, max batch)
    model.engine    an engine the host kept from an earlier run, and model.facts its record
    out/engine.plan, out/engine.json   an engine built here and its record: back to the host
                                       with the run, hash-checked, for its engine cache
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

from .facts import device_facts
from .runtimes import RuntimeUnavailable

STRONGLY_TYPED_FROM = 11  # the first TensorRT without the precision flags
FP32_MODEL, FP16_MODEL, QDQ_MODEL = "fp32", "fp16", "qdq"
SOURCE_MODEL = {  # the ONNX model each precision builds from, per path
    "flags": {"fp32": FP32_MODEL, "fp16": FP32_MODEL, "int8": QDQ_MODEL},
    "strongly-typed": {"fp32": FP32_MODEL, "fp16": FP16_MODEL, "int8": QDQ_MODEL},
}
BUILDER_FLAGS = {"fp32": [], "fp16": ["FP16"], "int8": ["INT8"]}
# The model the conversion writes for each precision (edgebench.convert.tensorrt_device).
CONVERTED_MODEL = {"fp32": FP32_MODEL, "fp16": FP32_MODEL, "int8": QDQ_MODEL}

RUN_OUT = "out"  # the run's out folder beside the staged model (staging names it so)
ENGINE_FILE, ENGINE_RECORD = "engine.plan", "engine.json"
SPEC_SUFFIX, CACHED_ENGINE_SUFFIX, CACHED_RECORD_SUFFIX = ".json", ".engine", ".facts"

# What makes an engine specific: the board's image and GPU (a subset of the host's
# trtexec.ENGINE_FACTS, which keys its cache) and the build's own inputs and settings.
BOARD_FACTS = ("board", "l4t_release", "machine")
GPU_FACTS = ("gpu_name", "gpu_compute_capability", "cuda_version")
BUILD_SETTINGS = ("tensorrt", "onnx_sha256", "precision", "max_batch", "dla_core", "workspace_mb")
IDENTITY = BOARD_FACTS + GPU_FACTS + BUILD_SETTINGS


class BuildRefused(RuntimeUnavailable):
    """This TensorRT cannot give the precision from the model at hand: unsupported here."""


class EngineBuildFailed(RuntimeError):
    """TensorRT's parser or builder refused the model; the message quotes its errors."""


# -- decisions (no TensorRT needed) --------------------------------------------------------------


def tensorrt_major(version) -> int:
    match = re.match(r"\s*v?(\d+)", str(version))
    if not match:
        raise ValueError(f"not a TensorRT version: {version!r}")
    return int(match[1])


def precision_plan(version, precision: str, model: str) -> dict:
    """How `precision` is built on TensorRT `version` from an ONNX model of kind `model` (fp32,
    fp16 (cast) or qdq): {"path": "flags" | "strongly-typed", "tensorrt_major", "precision",
    "model", "network_flags", "builder_flags"} (flag names of TensorRT's enums).
    BuildRefused when that model cannot give the precision there."""
    if precision not in BUILDER_FLAGS:
        raise ValueError(f"TensorRT has no {precision!r} path (known: {', '.join(BUILDER_FLAGS)})")
    major = tensorrt_major(version)
    path = "strongly-typed" if major >= STRONGLY_TYPED_FROM else "flags"
    needed = SOURCE_MODEL[path][precision]
    if model != needed:
        raise BuildRefused(refusal(version, precision, model, needed))
    if path == "flags":
        network = ["EXPLICIT_BATCH"] if major < 10 else []
        builder = BUILDER_FLAGS[precision]
    else:  # deprecated and ignored from 11 on; asked for where the enum still has it
        network, builder = ["STRONGLY_TYPED"], []
    return {
        "path": path,
        "tensorrt_major": major,
        "precision": precision,
        "model": model,
        "network_flags": network,
        "builder_flags": builder,
    }


def refusal(version, precision: str, model: str, needed: str) -> str:
    if precision == "fp16" and needed == FP16_MODEL:
        return (
            f"tensorrt-fp16 cannot be built with TensorRT {version}: TensorRT 11 and newer "
            "removed the FP16 builder flag and take every precision from the model, which "
            f"needs an ONNX model cast to fp16 (NVIDIA ModelOpt AutoCast); this one is {model}"
        )
    if precision == "int8":
        return (
            f"int8 on TensorRT {version} needs the Q/DQ model calibrated on the workload's "
            f"data (never random scales); this one is {model}"
        )
    return f"{precision} on TensorRT {version} builds from the {needed} model; this one is {model}"


def batch_profile(inputs: list[tuple[str, list[int]]], max_batch: int) -> dict:
    """{input: (min, opt, max) shapes} for inputs whose first dimension is dynamic (-1): batch
    1 to `max_batch`, optimised for 1 (the latency case). Empty for a static model."""
    shapes = {}
    for name, dims in inputs:
        if not dims or dims[0] != -1:
            continue
        rest = tuple(int(d) for d in dims[1:])
        if any(d < 0 for d in rest):
            raise EngineBuildFailed(
                f"input {name} has dynamic dimensions besides the batch: {dims}"
            )
        shapes[name] = ((1, *rest), (1, *rest), (int(max_batch), *rest))
    return shapes


def _fact(value):
    if isinstance(value, str):
        value = value.replace("\x00", "").strip()
        return value or None
    return value


def engine_identity(board: dict, gpu: dict, settings: dict) -> dict:
    """What an engine is specific to (IDENTITY), from the board's facts, its GPU's and the
    build's settings; a missing fact and an empty one are the same (None)."""
    merged = {**board, **gpu, **settings}
    return {key: _fact(merged.get(key)) for key in IDENTITY}


def identity_mismatches(recorded: dict, current: dict) -> list[str]:
    """Where an engine's recorded identity differs from the one wanted here, in words."""
    return [
        f"{key} {_fact(recorded.get(key))!r} (engine) vs {current[key]!r} (here)"
        for key in IDENTITY
        if _fact(recorded.get(key)) != current.get(key)
    ]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fitting_engine(engine: Path, record_file: Path, identity: dict) -> tuple[bytes | None, str]:
    """(the engine's bytes, "") when its record says it was built from this model, with these
    settings, on a board like this one, and its bytes are the ones recorded; else (None, why
    not). Nothing there: (None, "")."""
    if not engine.is_file():
        return None, ""
    try:
        record = json.loads(record_file.read_text())
    except (OSError, ValueError) as error:
        return None, f"its record {record_file.name} could not be read ({error})"
    mismatches = identity_mismatches(record.get("identity") or {}, identity)
    if mismatches:
        return None, "it was built for another board or build: " + "; ".join(mismatches)
    blob = engine.read_bytes()
    if sha256_bytes(blob) != record.get("engine_sha256"):
        return None, "its bytes are not the ones its record lists (incomplete or altered)"
    return blob, ""


def engine_record(blob: bytes, identity: dict, plan: dict, origin: str, **extra) -> dict:
    """What out/engine.json (and the host's cache beside each engine) says about an engine.
    `origin`: built (here, now), cache (the host's, staged) or run (built by an earlier
    process of this run)."""
    return {
        "engine_file": ENGINE_FILE if origin == "built" else None,
        "engine_sha256": sha256_bytes(blob),
        "engine_bytes": len(blob),
        "identity": identity,
        "precision_path": plan,
        "origin": origin,
        "build_ns": None,
        "rebuilt_because": None,
        **extra,
    }


def read_spec(path: Path) -> dict:
    """The conversion's build spec staged beside the ONNX model."""
    try:
        spec = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise EngineBuildFailed(
            f"no readable build spec {path.name} beside the model: {error}"
        ) from None
    missing = [key for key in ("precision", "model", "max_batch") if key not in spec]
    if missing:
        raise EngineBuildFailed(f"the build spec {path.name} lacks {', '.join(missing)}")
    return spec


# -- facts of this board ----------------------------------------------------------------------


def board_facts() -> dict:
    facts = device_facts()
    return {key: facts.get(key) for key in BOARD_FACTS}


def gpu_facts(cudart, check) -> dict:
    """The current CUDA device's name and compute capability, and the CUDA runtime's version,
    through cuda-python (`check` unwraps its `(error, value)` results)."""
    device = check(cudart.cudaGetDevice())
    properties = check(cudart.cudaGetDeviceProperties(device))
    name = properties.name
    if isinstance(name, bytes | bytearray):
        name = bytes(name).split(b"\x00", 1)[0].decode(errors="replace")
    version = int(check(cudart.cudaRuntimeGetVersion()))  # 1000 * major + 10 * minor
    return {
        "gpu_name": str(name).strip(),
        "gpu_compute_capability": f"{properties.major}.{properties.minor}",
        "cuda_version": f"{version // 1000}.{version % 1000 // 10}",
    }


# -- the build (needs TensorRT and a GPU) -----------------------------------------------------


def _logger(trt):
    """A TensorRT logger that keeps the errors (for the failure's reason) and prints warnings
    and errors to stderr (the job's log on the host)."""
    severity = trt.ILogger.Severity
    errors = (severity.INTERNAL_ERROR, severity.ERROR)

    class Collecting(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, level, message):
            if level in errors:
                self.errors.append(message)
            if level in (*errors, severity.WARNING):
                print(f"[TensorRT] {message}", file=sys.stderr, flush=True)

    return Collecting()


def _flags(enum, names: list[str]) -> int:
    bits = 0
    for name in names:
        if hasattr(enum, name):
            bits |= 1 << int(getattr(enum, name))
    return bits


def _parse(trt, network, logger, onnx: Path) -> None:
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx)):  # from the file: external weights resolve
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise EngineBuildFailed(
            f"TensorRT's ONNX parser refused {onnx.name}: " + " | ".join(errors)
        )


def _network_inputs(network) -> list[tuple[str, list[int]]]:
    found = []
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        found.append((tensor.name, [int(d) for d in tensor.shape]))
    return found


def _configure(trt, builder, network, plan: dict, max_batch, dla_core, workspace_mb):
    config = builder.create_builder_config()
    for name in plan["builder_flags"]:
        config.set_flag(getattr(trt.BuilderFlag, name))
    shapes = batch_profile(_network_inputs(network), max_batch)
    if shapes:
        profile = builder.create_optimization_profile()
        for name, (low, best, high) in shapes.items():
            profile.set_shape(name, low, best, high)
        config.add_optimization_profile(profile)
    if dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = int(dla_core)
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)  # layers the DLA cannot run: the GPU
    if workspace_mb:
        limit = int(workspace_mb) << 20
        if hasattr(config, "set_memory_pool_limit"):
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, limit)
        else:  # TensorRT before 8.4 (JetPack 4)
            config.max_workspace_size = limit
    return config


def build_serialized(trt, onnx: Path, plan: dict, max_batch: int, dla_core=None, workspace_mb=None):
    """The serialized engine (bytes) TensorRT's builder makes from `onnx` along `plan`."""
    logger = _logger(trt)
    builder = trt.Builder(logger)
    flags = _flags(trt.NetworkDefinitionCreationFlag, plan["network_flags"])
    network = builder.create_network(flags)
    _parse(trt, network, logger, onnx)
    config = _configure(trt, builder, network, plan, max_batch, dla_core, workspace_mb)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        said = " | ".join(logger.errors[-3:]) or "no error logged"
        raise EngineBuildFailed(f"TensorRT {trt.__version__} could not build {onnx.name}: {said}")
    return bytes(serialized)


# -- the engine for a staged ONNX model --------------------------------------------------------


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.part")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_engine_record(out: Path, record: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _write_atomically(out / ENGINE_RECORD, json.dumps(record, indent=2).encode())


def write_engine(out: Path, blob: bytes, record: dict) -> None:
    """out/engine.plan, then out/engine.json (whose presence says the engine is complete)."""
    out.mkdir(parents=True, exist_ok=True)
    _write_atomically(out / ENGINE_FILE, blob)
    write_engine_record(out, record)


def engine_from_onnx(trt, onnx: Path, gpu: dict, dla_core=None, workspace_mb=None):
    """(serialized engine, its record) for the staged ONNX model: the engine an earlier process
    of this run built, else the host's cached engine when it fits this board, else one built
    here now (written into the run's out folder, with why the cached one was not taken)."""
    spec = read_spec(onnx.with_suffix(SPEC_SUFFIX))
    plan = precision_plan(trt.__version__, spec["precision"], spec["model"])
    settings = {
        "tensorrt": trt.__version__,
        "onnx_sha256": sha256_bytes(onnx.read_bytes()),
        "precision": spec["precision"],
        "max_batch": int(spec["max_batch"]),
        "dla_core": dla_core,
        "workspace_mb": workspace_mb,
    }
    identity = engine_identity(board_facts(), gpu, settings)
    out = onnx.parent / RUN_OUT
    blob, _ = fitting_engine(out / ENGINE_FILE, out / ENGINE_RECORD, identity)
    if blob is not None:
        return blob, engine_record(blob, identity, plan, "run")
    cached = onnx.with_suffix(CACHED_ENGINE_SUFFIX), onnx.with_suffix(CACHED_RECORD_SUFFIX)
    blob, why_not = fitting_engine(*cached, identity)
    if blob is not None:
        record = engine_record(blob, identity, plan, "cache")
        if not (out / ENGINE_RECORD).exists():  # tells the host which board this is
            write_engine_record(out, record)
        return blob, record
    started = time.monotonic_ns()
    blob = build_serialized(trt, onnx, plan, settings["max_batch"], dla_core, workspace_mb)
    build_ns = time.monotonic_ns() - started
    record = engine_record(
        blob, identity, plan, "built", build_ns=build_ns, rebuilt_because=why_not or None
    )
    write_engine(out, blob, record)
    return blob, record
