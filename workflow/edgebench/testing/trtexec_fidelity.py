"""trtexec's own timings beside the agent's, for the fidelity check (benchmarks/
tensorrt_fidelity.py) and its tests: nothing in the workflow uses them. Pure functions, no
TensorRT and no GPU needed.

- `parse_export_times` / `parse_export_profile` read what `trtexec --exportTimes=F` and
  `--exportProfile=F` write, in both the current and the older field names, into one schema;
  `trtexec_median_ms` is the figure a fidelity check sets beside the agent's own median.
- `trtexec_fidelity_argv` builds the argument list of trtexec timing a built engine the way
  the agent times it (never a shell string).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

# --exportTimes: one object per timed iteration (warm-up iterations are not written).
CURRENT_TIME_FIELDS = ("startEnqMs", "endEnqMs", "startComputeMs", "endComputeMs", "computeMs")
CURRENT_TIME_TOTALS = ("latencyMs",)
OLD_TIME_FIELDS = ("startInMs", "inMs", "outMs")


def _load(text_or_json, what: str):
    """JSON text, bytes, a path to a file, or the already-parsed value."""
    if isinstance(text_or_json, Path):
        text_or_json = text_or_json.read_text()
    if isinstance(text_or_json, bytes):
        text_or_json = text_or_json.decode()
    if isinstance(text_or_json, str):
        try:
            return json.loads(text_or_json)
        except ValueError as error:
            raise ValueError(f"{what} is not JSON: {error}") from None
    return text_or_json


def _number(record: dict, key: str, index: int, what: str) -> float:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} iteration {index}: {key} is not a finite number: {value!r}")
    return float(value)


def parse_export_times(text_or_json) -> list[dict]:
    """The iterations of a `trtexec --exportTimes=F` file, one dict each, in one schema:

    `latency_ms` (host-to-device copy + compute + device-to-host copy: trtexec's "Latency"),
    `compute_ms` (trtexec's "GPU Compute Time"), `h2d_ms`, `d2h_ms`, `enqueue_ms`,
    `end_to_end_ms`, `start_ms` (the iteration's start on trtexec's clock) and `schema`
    ("current": `startEnqMs ... latencyMs, endToEndMs`; "old": `startInMs, inMs, outMs`);
    a field the file does not carry is None. Anything else is refused with a ValueError."""
    what = "trtexec --exportTimes output"
    data = _load(text_or_json, what)
    if not isinstance(data, list):
        raise ValueError(f"{what} must be a JSON list of iterations, not {type(data).__name__}")
    if not data:
        raise ValueError(f"{what} holds no iterations")
    records = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"{what} iteration {index} is not an object: {item!r}"[:200])
        if all(key in item for key in (*CURRENT_TIME_FIELDS, *CURRENT_TIME_TOTALS)):
            records.append(_current_times(item, index, what))
        elif all(key in item for key in OLD_TIME_FIELDS):
            records.append(_old_times(item, index, what))
        else:
            raise ValueError(
                f"{what} iteration {index} has neither the current fields "
                f"({', '.join(CURRENT_TIME_FIELDS + CURRENT_TIME_TOTALS)}) nor the older ones "
                f"({', '.join(OLD_TIME_FIELDS)}): it has {', '.join(sorted(item)) or 'none'}"
            )
    schemas = {record["schema"] for record in records}
    if len(schemas) > 1:
        raise ValueError(f"{what} mixes the current and the older field names")
    return records


def _optional(item: dict, key: str, index: int, what: str) -> float | None:
    return _number(item, key, index, what) if key in item else None


def _current_times(item: dict, index: int, what: str) -> dict:
    number = lambda key: _number(item, key, index, what)  # noqa: E731
    optional = lambda key: _optional(item, key, index, what)  # noqa: E731
    record = {
        "schema": "current",
        "start_ms": number("startEnqMs"),
        "enqueue_ms": number("endEnqMs") - number("startEnqMs"),
        "h2d_ms": optional("h2dMs"),
        "compute_ms": number("computeMs"),
        "d2h_ms": optional("d2hMs"),
        "latency_ms": number("latencyMs"),
        "end_to_end_ms": optional("endToEndMs"),
    }
    return _checked(record, index, what)


def _old_times(item: dict, index: int, what: str) -> dict:
    number = lambda key: _number(item, key, index, what)  # noqa: E731
    optional = lambda key: _optional(item, key, index, what)  # noqa: E731
    compute = optional("computeMs")
    if compute is None and "startComputeMs" in item and "endComputeMs" in item:
        compute = number("endComputeMs") - number("startComputeMs")
    if compute is None:
        raise ValueError(
            f"{what} iteration {index} (older field names) has no computeMs nor "
            "startComputeMs/endComputeMs: its latency cannot be formed"
        )
    latency = optional("latencyMs")
    if latency is None:
        latency = number("inMs") + compute + number("outMs")
    record = {
        "schema": "old",
        "start_ms": number("startInMs"),
        "enqueue_ms": None,
        "h2d_ms": number("inMs"),
        "compute_ms": compute,
        "d2h_ms": number("outMs"),
        "latency_ms": latency,
        "end_to_end_ms": optional("endToEndMs"),
    }
    return _checked(record, index, what)


def _checked(record: dict, index: int, what: str) -> dict:
    for key in ("compute_ms", "latency_ms", "h2d_ms", "d2h_ms"):
        if record[key] is not None and record[key] < 0:
            raise ValueError(f"{what} iteration {index}: {key} is negative ({record[key]})")
    return record


def trtexec_median_ms(records: list[dict], field: str = "latency_ms") -> float:
    """The median of one field over `parse_export_times` records. `latency_ms` compares with the
    agent's end_to_end timing (copies inside), `compute_ms` with its default timing (the
    enqueue and the synchronisation, the copies outside: trtexec --noDataTransfers makes its
    latency the compute time)."""
    values = [record[field] for record in records if record.get(field) is not None]
    if not values:
        raise ValueError(f"no iteration carries {field}")
    return statistics.median(values)


def parse_export_profile(text_or_json) -> dict:
    """A `trtexec --exportProfile=F` file: `[{"count": N}, {"name", "timeMs", "averageMs",
    "percentage", ...}...]` -> {"count": N, "layers": [{"name", "time_ms", "average_ms",
    "median_ms" (None where not written), "percentage"}...]}."""
    what = "trtexec --exportProfile output"
    data = _load(text_or_json, what)
    if not isinstance(data, list) or not data:
        raise ValueError(f"{what} must be a non-empty JSON list")
    head, *rows = data
    count = head.get("count") if isinstance(head, dict) else None
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f'{what} must start with {{"count": N}}, not {head!r}'[:200])
    layers = []
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise ValueError(f"{what} entry {index} is not an object: {row!r}"[:200])
        missing = [k for k in ("name", "timeMs", "averageMs", "percentage") if k not in row]
        if missing or not isinstance(row["name"], str):
            raise ValueError(f"{what} entry {index} lacks {', '.join(missing) or 'a name'}")
        layers.append(
            {
                "name": row["name"],
                "time_ms": _number(row, "timeMs", index, what),
                "average_ms": _number(row, "averageMs", index, what),
                "median_ms": _optional(row, "medianMs", index, what),
                "percentage": _number(row, "percentage", index, what),
            }
        )
    return {"count": count, "layers": layers}


def _quoted(name: str) -> str:
    """trtexec splits a shape spec at ':' unless the tensor name is quoted (it reads the quotes
    itself: no shell involved)."""
    return f"'{name}'" if ":" in name else name


def trtexec_fidelity_argv(
    engine,
    times_file,
    *,
    trtexec: str = "trtexec",
    shapes: dict[str, tuple[int, ...]] | None = None,
    dla_core: int | None = None,
    end_to_end: bool = False,
    iterations: int = 100,
    warmup_ms: int = 200,
    duration_s: int = 3,
    profile_file=None,
) -> list[str]:
    """trtexec timing a built engine the way the agent times it, for a fidelity check:
    `--loadEngine=E --exportTimes=F`; without `end_to_end`, --noDataTransfers (the agent's
    default timing has the copies outside). `shapes` ({input: shape}) picks the batch of a
    dynamic-batch engine. Compare `trtexec_median_ms(parse_export_times(F))` with the agent."""
    argv = [
        trtexec,
        f"--loadEngine={engine}",
        f"--exportTimes={times_file}",
        f"--iterations={int(iterations)}",
        f"--warmUp={int(warmup_ms)}",
        f"--duration={int(duration_s)}",
    ]
    if shapes:
        spec = ",".join(
            f"{_quoted(name)}:{'x'.join(str(int(d)) for d in shape)}"
            for name, shape in shapes.items()
        )
        argv.append(f"--shapes={spec}")
    if not end_to_end:
        argv.append("--noDataTransfers")
    if profile_file is not None:
        argv += ["--dumpProfile", f"--exportProfile={profile_file}"]
    if dla_core is not None:
        argv.append(f"--useDLACore={int(dla_core)}")
    return argv
