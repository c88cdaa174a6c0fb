"""Atomic writes (a killed job never leaves a file that looks complete), and the versioned JSON
records that later steps read (docs/formats.md).

Every JSON output that other code reads carries a `format_version` and is read through one
function per format (`read_conversion_record`, `read_workload_meta`, `read_image_record`,
`read_device_digest`, `read_engine_device`), which refuses a version this edgebench does not
read with a message naming the file and what to do. A record without `format_version` was
written before records were versioned: it is version 1, the shape documented as version 1.
The raw logs have their own reader (edgebench.rawlog), the power logs theirs
(edgebench.power.integrate).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=path.parent
    )
    os.close(fd)
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; results are to be shared
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path | str, data) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def read_json(path: Path | str):
    return json.loads(Path(path).read_text())


def sha256_file(path: Path | str) -> str:
    """The file's SHA-256 (hex), read in chunks: the host's one hash helper (the agent keeps its
    own, being standalone)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- versioned records -----------------------------------------------------------------------


@dataclass(frozen=True)
class RecordFormat:
    """One JSON output format: its name in messages, the version written, the versions read,
    and what a user does about a file of another version."""

    name: str
    version: int
    readable: frozenset[int]
    remedy: str


CONVERSION_RECORD = RecordFormat(
    "conversion record",
    1,
    frozenset({1}),
    "delete it (and the converted model beside it) and run the workflow again: the conversion "
    "is made again",
)
WORKLOAD_META = RecordFormat(
    "workload meta.json",
    1,
    frozenset({1}),
    "delete the workload's folder and run the workflow again: the workload is built again",
)
IMAGE_RECORD = RecordFormat(
    "image record",
    1,
    frozenset({1}),
    "delete it and run the workflow again: the image is built again",
)
DEVICE_DIGEST = RecordFormat(  # 2: per-process medians and the median's interval; 3: power
    "report device digest",
    3,
    frozenset({3}),
    "delete it and run the workflow again: it is made again from the raw logs",
)
ENGINE_DEVICE = RecordFormat(
    "engine cache device record",
    1,
    frozenset({1}),
    "delete it: the next TensorRT run on the device writes it again",
)


def write_record(kind: RecordFormat, path: Path | str, data: dict) -> None:
    """`data` with its format's `format_version` first, written atomically."""
    write_json(path, {**data, "format_version": kind.version})


def read_record(kind: RecordFormat, path: Path | str) -> dict:
    """A record of `kind`; ValueError naming the file for what is not JSON, not an object, or
    of a version this edgebench does not read."""
    try:
        data = read_json(path)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a JSON {kind.name} ({error}); {kind.remedy}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a {kind.name} is a JSON object; {kind.remedy}")
    version = data.get("format_version", 1)  # written before records were versioned
    if version not in kind.readable:
        raise ValueError(
            f"{path}: {kind.name} format_version {version!r}, but this edgebench reads "
            f"{', '.join(map(str, sorted(kind.readable)))}; {kind.remedy} (or read it with "
            "the edgebench version that wrote it)"
        )
    return data


def read_conversion_record(path: Path | str) -> dict:
    """results/converted/{workload}/{format}.json (docs/formats.md)."""
    return read_record(CONVERSION_RECORD, path)


def write_conversion_record(path: Path | str, record: dict) -> None:
    write_record(CONVERSION_RECORD, path, record)


def read_workload_meta(path: Path | str) -> dict:
    """results/workloads/{workload}/meta.json (docs/formats.md)."""
    return read_record(WORKLOAD_META, path)


def write_workload_meta(path: Path | str, meta: dict) -> None:
    write_record(WORKLOAD_META, path, meta)


def read_image_record(path: Path | str) -> dict:
    """results/images/{image}.json (docs/formats.md)."""
    return read_record(IMAGE_RECORD, path)


def write_image_record(path: Path | str, record: dict) -> None:
    write_record(IMAGE_RECORD, path, record)


def read_device_digest(path: Path | str) -> dict:
    """results/report/devices/{device}.json (docs/formats.md)."""
    return read_record(DEVICE_DIGEST, path)


def write_device_digest(path: Path | str, digest: dict) -> None:
    write_record(DEVICE_DIGEST, path, digest)


def read_engine_device(path: Path | str) -> dict:
    """results/engines/devices/{device}.json (docs/formats.md)."""
    return read_record(ENGINE_DEVICE, path)


def write_engine_device(path: Path | str, record: dict) -> None:
    write_record(ENGINE_DEVICE, path, record)
