"""One run on the device: the batch sweep, then the accuracy pass, logged to run.jsonl."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import PROCESS_STARTED_NS
from .facts import device_facts, peak_rss_kb
from .power import PowerRecorder
from .power_common import SourceMissing
from .protocol import Timing, measure
from .runlog import (
    RunLogWriter,
    accuracy_record,
    batch_record,
    encode,
    header_record,
    now,
    sample_lines,
    sha256,
)
from .runtimes import Runtime, RuntimeUnavailable, load_runtime


def usable_cores() -> int:
    """The cores this process may run on (its affinity), the default thread count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


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


def measure_batch(runtime, model: str, batch: int, job: dict):
    """Load for `batch`, feed seeded inputs and time them: (batch record, starts, ends)."""
    record = batch_record(batch)
    try:
        started = now()
        runtime.prepare(model, batch, job["threads"])
        record["load_ns"] = now() - started
        if runtime.details():  # the plugin, device or providers this session really got
            record["runtime"] = runtime.details()
        runtime.feed(random_inputs(runtime, job["input_range"], job["seed"]))
        measurement = measure(runtime.infer, Timing.from_dict(job["timing"]), holds_power(job))
    except Exception as error:  # out of memory, a kernel that refuses the shape: the sweep ends
        record.update(status="failed", reason=f"{type(error).__name__}: {error}"[:500])
        record["peak_rss_kb"] = peak_rss_kb()
        return record, [], []
    record.update(
        first_ns=measurement.first_ns,
        warmup_runs=measurement.warmup_runs,
        warmup_ns=measurement.warmup_ns,
        runs=len(measurement.ends),
        stopped_by=measurement.stopped_by,
        window_ns=measurement.ends[-1] - measurement.starts[0],
        peak_rss_kb=peak_rss_kb(),
    )
    if measurement.held_runs:
        record.update(held_runs=measurement.held_runs, held_ns=measurement.held_ns)
    return record, measurement.starts, measurement.ends


def holds_power(job: dict) -> bool:
    """Whether a power source measures the windows (they must then last min_s)."""
    power = job.get("power")
    return bool(power) and not power.get("unavailable")


def power_window_end(record: dict, last_end_ns: int) -> int:
    """Where the power window ends: the last timed run's end, or the end of the held runs."""
    return last_end_ns + record.get("held_ns", 0)


def run_batch(runtime, model: str, batch: int, job: dict, log: RunLogWriter, power=None) -> bool:
    record, starts, ends = measure_batch(runtime, model, batch, job)
    log.write_samples(batch, starts, ends)
    log.write(record)
    if power is not None and starts:
        power.window(batch, 0, starts[0], power_window_end(record, ends[-1]))
    return record["status"] == "ok"


def worker_file(out: Path, batch: int, index: int) -> Path:
    return out / f".process-{batch}-{index}.jsonl"


def run_worker(job: dict, workdir: Path, batch: int, index: int) -> int:
    """One fresh process's timing of one batch size, for the parent agent to merge."""
    out = workdir / job.get("out", "out")
    job = {**job, "threads": job.get("threads") or usable_cores()}
    runtime = load_runtime(
        job["runtime_family"], job.get("runtime_module"), job.get("runtime_options")
    )
    record, starts, ends = measure_batch(runtime, str(workdir / job["model"]), batch, job)
    path = worker_file(out, batch, index)
    with open(path, "w") as handle:
        handle.writelines(line + "\n" for line in sample_lines(batch, starts, ends, index))
        handle.write(encode(record) + "\n")
    return 0 if record["status"] == "ok" else 1


def run_process(
    job: dict, job_file: Path, batch: int, index: int, log: RunLogWriter, power=None
) -> dict:
    """One fresh agent process's timing of `batch` (process index `index`): its samples go into
    `log`, its window into `power`; returns its batch record."""
    out = log.path.parent
    command = [sys.executable, "-m", __package__, str(job_file), "--worker"]
    # its stdin (the lifeline) stays open while this process lives
    worker = subprocess.Popen([*command, str(batch), str(index)], stdin=subprocess.PIPE)
    worker.wait()
    worker.stdin.close()
    path = worker_file(out, batch, index)
    if not path.exists():
        return {"status": "failed", "reason": f"process {index} left no samples"}
    lines = path.read_text().splitlines()
    path.unlink()
    log.write_lines(lines[:-1])
    if power is not None and len(lines) > 1:
        first, last = json.loads(lines[0]), json.loads(lines[-2])
        end = power_window_end(json.loads(lines[-1]), last["end_ns"])
        power.window(batch, index, first["start_ns"], end)
    return {**json.loads(lines[-1]), "process": index}


def run_batch_in_processes(
    job: dict, job_file: Path, batch: int, log: RunLogWriter, power=None
) -> bool:
    """Time `batch` in `processes` fresh agent processes one after another (pyperf's answer to
    process-to-process drift); every sample keeps its process index."""
    records = []
    for index in range(job["processes"]):
        records.append(run_process(job, job_file, batch, index, log, power))
        if records[-1]["status"] != "ok":
            break
    log.write(merged_batch(batch, records))
    return all(r["status"] == "ok" for r in records)


def merged_batch(batch: int, records: list[dict]) -> dict:
    """One batch record for the processes: sums and the first process's load, with each
    process's own figures kept under `processes`."""
    failed = next((r for r in records if r["status"] != "ok"), None)
    first = records[0]
    merged = batch_record(batch)
    if failed is not None:
        merged.update(status="failed", reason=failed.get("reason", ""))
    for key in ("load_ns", "first_ns", "runtime"):
        if key in first:
            merged[key] = first[key]
    for key in ("warmup_runs", "warmup_ns", "runs", "window_ns"):
        merged[key] = sum(r.get(key, 0) for r in records)
    for key in ("held_runs", "held_ns"):
        if any(key in r for r in records):
            merged[key] = sum(r.get(key, 0) for r in records)
    # a process that stopped at its share of the budget says so for the batch size
    stops = [r.get("stopped_by", "") for r in records]
    merged["stopped_by"] = "budget" if "budget" in stops else stops[-1]
    merged["peak_rss_kb"] = max(r.get("peak_rss_kb", 0) for r in records)
    merged["processes"] = [
        {k: r.get(k) for k in ("process", "status", "runs", "load_ns", "first_ns", "stopped_by")}
        for r in records
    ]
    return merged


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
    log.write(accuracy_record(len(outputs)))


def header(job: dict, model: Path) -> dict:
    return header_record(
        {
            "device": job["device"],
            "workload": job["workload"],
            "format": job["format"],
            "facts": device_facts(),
            "runtime": None,
            "threads": job["threads"],
            "threads_from": job["threads_from"],
            "model": {
                "file": model.name,
                "sha256": sha256(model),
                "size_bytes": model.stat().st_size,
            },
            "timing": job["timing"],
            "batch_sizes": job["batch_sizes"],
            "processes": job.get("processes", 1),
            "power": job.get("power"),
            "seed": job["seed"],
            "clock": "monotonic_ns",
            "host_clock": job.get("host_clock"),
            "process_started_ns": PROCESS_STARTED_NS,
            "started_ns": now(),
            # measured together with other formats (edgebench_agent.interleave)
            **({"schedule": job["schedule"]} if job.get("schedule") else {}),
        }
    )


@dataclass
class OpenRun:
    """A run whose header is written, runtime loaded and idle power measured: its batches
    follow (`run_job`, or `interleave.run_interleaved` with other formats' runs), then
    `finish`."""

    job: dict
    workdir: Path
    job_file: Path | None
    model: Path
    out: Path
    log: RunLogWriter
    runtime: Runtime
    power: PowerRecorder | None
    any_ok: bool = False

    def close_power(self) -> None:
        if self.power is not None:
            self.power.close()
            self.power = None

    def finish(self) -> str:
        """The accuracy pass (after any batch ran) and the end record; the end status."""
        self.close_power()
        if not self.any_ok:
            self.log.end("failed", "no batch size ran; see the batch record")
            return "failed"
        if self.job.get("accuracy_inputs"):
            run_accuracy(self.runtime, str(self.model), self.job, self.workdir, self.out, self.log)
        self.log.end("complete")
        return "complete"


def open_run(job: dict, workdir: Path, job_file: Path | None = None) -> OpenRun | str:
    """Start the run a job asks for: its header, its runtime, its power recorder and idle
    window; the end status instead when it cannot run (its log then ended)."""
    out = workdir / job.get("out", "out")
    shutil.rmtree(out, ignore_errors=True)  # the board lock is held: nothing else writes here
    model = workdir / job["model"]
    threads_from = "config" if job.get("threads") else "device cores"
    job = {**job, "threads": job.get("threads") or usable_cores(), "threads_from": threads_from}
    log = RunLogWriter(out / "run.jsonl")
    record = header(job, model)
    try:
        runtime = load_runtime(
            job["runtime_family"], job.get("runtime_module"), job.get("runtime_options")
        )
    except RuntimeUnavailable as error:
        log.write(record)
        log.end("unsupported", str(error))
        return "unsupported"
    record["runtime"] = {
        "name": runtime.module,
        "version": runtime.version,
        "requested": job.get("runtime_module"),  # the profile's `runtimes` entry, if any
    }
    log.write(record)
    try:
        power = PowerRecorder(job["power"], out) if job.get("power") else None
    except SourceMissing as error:
        log.end("failed", f"power source {job['power']['source']}: {error}")
        return "failed"
    if power is not None:
        power.idle()
    return OpenRun(job, workdir, job_file, model, out, log, runtime, power)


def run_job(job: dict, workdir: Path, job_file: Path | None = None) -> str:
    """Run everything the job asks for; returns the end status written to run.jsonl."""
    run = open_run(job, workdir, job_file)
    if isinstance(run, str):
        return run
    job = run.job
    try:
        for batch in job["batch_sizes"]:
            if job.get("processes", 1) > 1 and job_file is not None:
                ran = run_batch_in_processes(job, job_file, batch, run.log, run.power)
            else:
                ran = run_batch(run.runtime, str(run.model), batch, job, run.log, run.power)
            if not ran:
                break
            run.any_ok = True
    finally:
        run.close_power()
    return run.finish()
