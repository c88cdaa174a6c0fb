"""The raw run log (`run.jsonl`, docs/raw-format.md): its version and its one reader, and the
host's writer for runs that never reached a device.

Every record is built by one writer, `edgebench.agent.runlog` (the agent's, standalone on the
device; the serial transport and `write_unrun` use it on the host), with its own copy of
FORMAT_VERSION; tests/test_agent.py checks the two agree. Every other module reads raw logs
through `read_run` (or `read_header` / `run_key` for the header alone, `read_end` for the end
record of a long log): the ids come from the header record, never from the file's path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# written by this version (2: samples carry `process`; 3: a sample may span `inferences`
# inferences, a serial board's timed window)
FORMAT_VERSION = 3
READABLE_VERSIONS = {1, 2, 3}  # what read_run accepts
KEYS = ["device", "workload", "format"]
BATCH_STATUSES = {"ok", "failed"}
END_STATUSES = {"complete", "unsupported", "failed"}


@dataclass
class RawRun:
    """One run.jsonl: its records; each batch's samples as int64 end - start durations (ns)."""

    path: Path
    header: dict
    samples: dict[int, np.ndarray]
    batches: list[dict]
    accuracy: dict | None
    end: dict
    processes: dict[int, dict[int, np.ndarray]] | None = None  # batch -> process -> durations

    @property
    def key(self) -> tuple[str, str, str]:
        return header_key(self.header, self.path)


def header_key(header: dict, path: Path | str) -> tuple[str, str, str]:
    missing = [name for name in KEYS if not header.get(name)]
    if missing:
        raise ValueError(f"{path}: the header names no {', '.join(missing)}")
    return header["device"], header["workload"], header["format"]


def read_header(path: Path | str) -> dict:
    """The header record of a raw log, read from its first line alone, its version checked."""
    with open(path) as handle:
        first = handle.readline()
    try:
        header = json.loads(first)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:1: not a JSON record ({error})") from error
    if not isinstance(header, dict) or header.get("type") != "header":
        raise ValueError(f"{path}: the first record is not a header")
    _check_version(path, header)
    return header


def run_key(path: Path | str) -> tuple[str, str, str]:
    """(device, workload, format) of a raw log, from its header record."""
    return header_key(read_header(path), path)


END_RECORD_TAIL = 1 << 20  # the end record is the log's last line, well within this


def read_end(path: Path | str) -> dict:
    """The end record of a complete raw log, read from the file's tail (a log of a
    microsecond block holds thousands of samples), its header's version checked."""
    path = Path(path)
    read_header(path)
    with open(path, "rb") as handle:
        handle.seek(max(path.stat().st_size - END_RECORD_TAIL, 0))
        lines = handle.read().splitlines()
    try:
        end = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: the last line is not a JSON record ({error})") from error
    if not isinstance(end, dict) or end.get("type") != "end":
        raise ValueError(f"{path}: no end record; the run log is incomplete")
    return end


def _check_version(path: Path | str, header: dict) -> None:
    version = header.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"{path}: raw log format_version {version!r}, but this edgebench reads "
            f"{sorted(READABLE_VERSIONS)}; read it with the edgebench version that wrote it, "
            "or run it again"
        )


def _records(path: Path) -> list[tuple[int, dict]]:
    numbered = [
        (number, line)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.strip()
    ]
    try:  # one parse of the whole log: 2.4x faster than one per line, on 60 000 samples
        parsed = json.loads("[" + ",".join(line for _, line in numbered) + "]")
    except json.JSONDecodeError:
        parsed = None
    if parsed is not None and len(parsed) == len(numbered):
        return [(number, record) for (number, _), record in zip(numbered, parsed, strict=True)]
    records = []  # a line that is not one JSON value: find it, to name it
    for number, line in numbered:
        try:
            records.append((number, json.loads(line)))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not a JSON record ({error})") from error
    return records


def _check_framing(path: Path, records: list[tuple[int, dict]]) -> None:
    if not records or records[-1][1].get("type") != "end":
        raise ValueError(f"{path}: no end record; the run log is incomplete")
    if records[0][1].get("type") != "header":
        raise ValueError(f"{path}: the first record is not a header")
    _check_version(path, records[0][1])
    for number, record in records[1:-1]:
        if record.get("type") in ("header", "end"):
            raise ValueError(f"{path}:{number}: a {record['type']} record in the middle of the log")


def _check_samples(
    path: Path, samples: dict[int, np.ndarray], batches: list[dict], inferences: dict[int, int]
) -> None:
    recorded = {record["batch"] for record in batches}
    if orphans := sorted(set(samples) - recorded):
        raise ValueError(f"{path}: samples for batch sizes {orphans} that have no batch record")
    for batch, durations in samples.items():
        if (durations < 0).any():
            raise ValueError(f"{path}: batch {batch} has samples with end_ns before start_ns")
    for record in batches:
        expect(record.get("status"), BATCH_STATUSES, f"{path}: batch {record['batch']} status")
        count = inferences.get(record["batch"], 0)
        if record["status"] == "ok" and (count == 0 or count != record.get("runs")):
            raise ValueError(
                f"{path}: batch {record['batch']} is ok with runs={record.get('runs')} "
                f"but its samples hold {count} inferences"
            )


def read_run(path: Path | str) -> RawRun:
    """Parse and check one run.jsonl; an incomplete, inconsistent or unknown-version log
    raises ValueError naming the file."""
    path = Path(path)
    records = _records(path)
    _check_framing(path, records)
    header, end = records[0][1], records[-1][1]
    header_key(header, path)
    expect(end.get("status"), END_STATUSES, f"{path}: end status")
    durations: dict[int, list[int]] = {}
    inferences: dict[int, int] = {}
    by_process: dict[int, dict[int, list[int]]] = {}
    batches, accuracy_record = [], None
    for number, record in records[1:-1]:
        kind = record.get("type")
        if kind == "sample":
            duration, count = sample_duration(record, path, number)
            durations.setdefault(record["batch"], []).append(duration)
            inferences[record["batch"]] = inferences.get(record["batch"], 0) + count
            process = record.get("process", 0)  # version 1: one process
            by_process.setdefault(record["batch"], {}).setdefault(process, []).append(duration)
        elif kind == "batch":
            batches.append(record)
        elif kind == "accuracy":
            accuracy_record = record
        else:
            raise ValueError(f"{path}:{number}: unknown record type {kind!r}")
    samples = {batch: np.asarray(values, dtype=np.int64) for batch, values in durations.items()}
    _check_samples(path, samples, batches, inferences)
    processes = {
        batch: {index: np.asarray(values, dtype=np.int64) for index, values in per.items()}
        for batch, per in by_process.items()
    }
    return RawRun(path, header, samples, batches, accuracy_record, end, processes)


def sample_duration(record: dict, path: Path, number: int) -> tuple[int, int]:
    """(ns per inference, inferences) of a sample record: one inference, or a serial board's
    window of `inferences` (version 3), whose span is divided among them."""
    count = record.get("inferences", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"{path}:{number}: inferences must be a positive integer, not {count!r}")
    return (record["end_ns"] - record["start_ns"]) // count, count


def expect(value, allowed: set[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} is {value!r}, expected one of {sorted(allowed)}")


def write_unrun(raw_log: Path, job: dict, status: str, reason: str) -> None:
    """A run that never reached (or never ran on) the device: a header and its end record,
    written by the agent's writer (edgebench.agent.runlog), the one that builds every record."""
    from edgebench.agent.runlog import RunLogWriter, header_record

    log = RunLogWriter(raw_log)
    log.write(header_record(job))
    log.end(status, reason)
