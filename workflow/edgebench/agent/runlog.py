"""The raw run log's one writer (run.jsonl, docs/raw-format.md).

Every record that reaches a run.jsonl is built here: the agent's on the device, the serial
transport's for a board that runs firmware, and `edgebench.rawlog.write_unrun`'s for a run that
never reached a device. Standard library only (the agent is copied to the board as-is);
`FORMAT_VERSION` is the agent's own copy of `edgebench.rawlog.FORMAT_VERSION`, which reads the
log (tests/test_agent.py checks the two agree).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

# written by this version (2: samples carry `process`; 3: a sample may span `inferences`
# inferences, a serial board's timed window)
FORMAT_VERSION = 3
IDENTITY = ("device", "workload", "format")
RECORD_TYPES = ("header", "sample", "batch", "accuracy", "end")
ACCURACY_FILE = "accuracy.npz"


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


def encode(record: dict) -> str:
    """One record as its line (without the newline)."""
    return json.dumps(record, separators=(",", ":"))


def header_record(fields: dict) -> dict:
    """The first record: `fields` (device, workload, format and what is known of the run)
    after its type and version, and the wall-clock anchor taken now."""
    if missing := [name for name in IDENTITY if not fields.get(name)]:
        raise ValueError(f"a run log header needs {', '.join(missing)}")
    return {
        "type": "header",
        "format_version": FORMAT_VERSION,
        **fields,
        "wall_clock": wall_clock(),
    }


def sample_lines(batch: int, starts: list[int], ends: list[int], process: int | None = None):
    """One sample line per timed inference (`process`: the fresh agent process that timed it).
    Formatted directly: a microsecond block writes thousands of them."""
    tag = "" if process is None else f',"process":{process}'
    return (
        f'{{"type":"sample","batch":{batch}{tag},"start_ns":{s},"end_ns":{e}}}'
        for s, e in zip(starts, ends, strict=True)
    )


def window_record(
    batch: int, process: int, start_ns: int, end_ns: int, inferences: int, **board
) -> dict:
    """One timed window of `inferences` inferences as a sample (a serial board's; readers
    divide its span by the count); `board` holds the board's own timestamps (t1_us, t2_us)."""
    return {
        "type": "sample",
        "batch": batch,
        "process": process,
        "start_ns": start_ns,
        "end_ns": end_ns,
        "inferences": inferences,
        **board,
    }


def batch_record(batch: int, status: str = "ok", reason: str = "", **fields) -> dict:
    """After a batch size's samples: its status, reason and figures (docs/raw-format.md)."""
    return {"type": "batch", "batch": batch, "status": status, "reason": reason, **fields}


def accuracy_record(samples: int, status: str = "ok") -> dict:
    return {"type": "accuracy", "file": ACCURACY_FILE, "samples": samples, "status": status}


def end_record(status: str, reason: str, files: dict[str, str]) -> dict:
    """The last record: how the run ended, the other files it wrote (with their SHA-256) and
    the closing wall-clock anchor."""
    end = {"type": "end", "status": status, "reason": reason, "finished_ns": now()}
    return {**end, "files": files, "wall_clock": wall_clock()}


class RunLogWriter:
    """run.jsonl, streamed to run.jsonl.part and renamed only once the `end` record is in."""

    def __init__(self, path: Path):
        self.path = path
        self.partial = path.with_name(path.name + ".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.partial, "w")

    def write(self, record: dict) -> None:
        """A record built by this module's functions."""
        if record.get("type") not in RECORD_TYPES or record["type"] == "end":
            raise ValueError(f"not a run log record this writer writes: {record.get('type')!r}")
        self._file.write(encode(record) + "\n")

    def write_lines(self, lines) -> None:
        """Lines already encoded by this module (`sample_lines`, `encode`)."""
        self._file.writelines(line + "\n" for line in lines)

    def write_samples(
        self, batch: int, starts: list[int], ends: list[int], process: int | None = None
    ) -> None:
        self.write_lines(sample_lines(batch, starts, ends, process))

    def other_files(self) -> dict[str, str]:
        """Every other file in the log's folder (accuracy.npz ...), with its SHA-256: what the
        host verifies before it keeps them."""
        return {
            path.name: sha256(path)
            for path in sorted(self.path.parent.iterdir())
            if path.is_file() and path not in (self.path, self.partial)
        }

    def end(self, status: str, reason: str = "") -> None:
        self._file.write(encode(end_record(status, reason, self.other_files())) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.partial, self.path)
