"""One run on the device: the batch sweep, then the accuracy pass, logged to run.jsonl."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from . import FORMAT_VERSION, PROCESS_STARTED_NS
from .facts import device_facts, peak_rss_kb
from .protocol import Timing, measure
from .runtimes import Runtime, RuntimeUnavailable, load_runtime


class RunLogWriter:
    """run.jsonl, streamed to run.jsonl.part and renamed only once the `end` record is in."""

    def __init__(self, path: Path):
        self.path = path
        self.partial = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.partial, "w")

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def write_samples(self, batch: int, starts: list[int], ends: list[int]) -> None:
        lines = (
            f'{{"type":"sample","batch":{batch},"start_ns":{s},"end_ns":{e}}}\n'
            for s, e in zip(starts, ends, strict=True)
        )
        self._file.writelines(lines)

    def other_files(self) -> dict[str, str]:
        """Every other file in the log's folder (accuracy.npz ...), with its SHA-256: what the
        host verifies before it keeps them."""
        return {
            path.name: sha256(path)
            for path in sorted(self.path.parent.iterdir())
            if path.is_file() and path not in (self.path, self.partial)
        }

    def end(self, status: str, reason: str = "") -> None:
        end = {"type": "end", "status": status, "reason": reason, "finished_ns": now()}
        self.write({**end, "files": self.other_files(), "wall_clock": wall_clock()})
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.path)


def usable_cores() -> int:
    """The cores this process may run on (its affinity), the default thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def now() -> int:
    return time.monotonic_ns()


def wall_clock() -> dict:
    """A wall-clock reading next to a monotonic one: places samples taken on another clock
    (a power meter read by the host) on this run's timeline (docs/raw-format.md)."""
    before = time.monotonic_ns()
    wall = time.time_ns()
    after = time.monotonic_ns()
    return {
        "time_ns": wall,
        "monotonic_ns": (before + after) // 2,
        "uncertainty_ns": after - before,
    }


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def quantize(values: np.ndarray, dtype: np.dtype, quantization) -> np.ndarray:
    if quantization is None:
        return values.astype(dtype, copy=False)
    scale, zero = quantization
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero), info.min, info.max).astype(dtype)


def random_inputs(runtime: Runtime, value_range, seed: int) -> np.ndarray:
    """Seeded random inputs of the model's dtype, drawn in the model's input range."""
    shape, dtype, quantization = runtime.input_spec()
    low, high = value_range
    values = np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)
    return quantize(values, dtype, quantization)


def run_batch(runtime, model: str, batch: int, job: dict, log: RunLogWriter) -> bool:
    record = {"type": "batch", "batch": batch, "status": "ok", "reason": ""}
    try:
        started = now()
        runtime.prepare(model, batch, job["threads"])
        record["load_ns"] = now() - started
        runtime.feed(random_inputs(runtime, job["input_range"], job["seed"]))
        measurement = measure(runtime.infer, Timing.from_dict(job["timing"]))
    except Exception as error:  # out of memory, a kernel that refuses the shape: the sweep ends
        record.update(status="failed", reason=f"{type(error).__name__}: {error}"[:500])
        record["peak_rss_kb"] = peak_rss_kb()
        log.write(record)
        return False
    log.write_samples(batch, measurement.starts, measurement.ends)
    record.update(
        first_ns=measurement.first_ns,
        warmup_runs=measurement.warmup_runs,
        warmup_ns=measurement.warmup_ns,
        runs=len(measurement.ends),
        stopped_by=measurement.stopped_by,
        window_ns=measurement.ends[-1] - measurement.starts[0],
        peak_rss_kb=peak_rss_kb(),
    )
    log.write(record)
    return True


def run_accuracy(
    runtime, model: str, job: dict, workdir: Path, out: Path, log: RunLogWriter
) -> None:
    """Every dataset sample through the model, one at a time; outputs go back to the host."""
    inputs = np.load(workdir / job["accuracy_inputs"])
    runtime.prepare(model, 1, job["threads"])
    _, dtype, quantization = runtime.input_spec()
    outputs = []
    for sample in inputs:
        runtime.feed(quantize(sample[np.newaxis].astype(np.float32), dtype, quantization))
        runtime.infer()
        outputs.append(runtime.output()[0])
    partial = out / "accuracy.npz.part"
    with open(partial, "wb") as handle:
        np.savez_compressed(handle, outputs=np.stack(outputs).astype(np.float32))
    os.replace(partial, out / "accuracy.npz")
    log.write({"type": "accuracy", "file": "accuracy.npz", "samples": len(outputs), "status": "ok"})


def header(job: dict, model: Path) -> dict:
    return {
        "type": "header",
        "format_version": FORMAT_VERSION,
        "device": job["device"],
        "workload": job["workload"],
        "format": job["format"],
        "facts": device_facts(),
        "runtime": None,
        "threads": job["threads"],
        "threads_from": job["threads_from"],
        "model": {"file": model.name, "sha256": sha256(model), "size_bytes": model.stat().st_size},
        "timing": job["timing"],
        "batch_sizes": job["batch_sizes"],
        "seed": job["seed"],
        "clock": "monotonic_ns",
        "host_clock": job.get("host_clock"),
        "process_started_ns": PROCESS_STARTED_NS,
        "started_ns": now(),
        "wall_clock": wall_clock(),
    }


def run_job(job: dict, workdir: Path) -> str:
    """Run everything the job asks for; returns the end status written to run.jsonl."""
    out = workdir / job.get("out", "out")
    shutil.rmtree(out, ignore_errors=True)  # the board lock is held: nothing else writes here
    model = workdir / job["model"]
    threads_from = "config" if job.get("threads") else "device cores"
    job = {**job, "threads": job.get("threads") or usable_cores(), "threads_from": threads_from}
    log = RunLogWriter(out / "run.jsonl")
    record = header(job, model)
    try:
        runtime = load_runtime(job["runtime"], job.get("runtime_module"))
    except RuntimeUnavailable as error:
        log.write(record)
        log.end("unsupported", str(error))
        return "unsupported"
    record["runtime"] = {
        "name": runtime.name,
        "version": runtime.version,
        "requested": job.get("runtime_module"),  # the profile's `runtimes` entry, if any
    }
    log.write(record)
    any_ok = False
    for batch in job["batch_sizes"]:
        if not run_batch(runtime, str(model), batch, job, log):
            break
        any_ok = True
    if not any_ok:
        log.end("failed", "no batch size ran; see the batch record")
        return "failed"
    if job.get("accuracy_inputs"):
        run_accuracy(runtime, str(model), job, workdir, out, log)
    log.end("complete")
    return "complete"
