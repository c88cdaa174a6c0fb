"""Power logs read back and integrated over the run's timed windows (DESIGN.md section 5).

The agent's power.jsonl holds the marks (the idle window, and each timed window: one per batch
size and process) on the device's monotonic clock, and the samples of an on-board source; a
host meter's samples are in meter.jsonl on the host's wall clock and are placed on the device's
timeline with the run header's clock anchors (docs/raw-format.md). Energy is the trapezoid
integral of the samples over each window, interpolated at its edges (for an energy counter, the
counter interpolated at the edges); mean power = energy / duration. A window holding fewer than
`min_samples` samples gives no figure, and the reason says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgebench.agent.powerlog import METER_LOG, POWER_FORMAT_VERSION, POWER_LOG

MIN_SAMPLES = 10  # default: fewer samples inside a window give no figure
NS = 1e9


@dataclass
class PowerTrace:
    """One power log: its header, samples (times on the device's monotonic clock) and marks."""

    header: dict
    t_ns: np.ndarray  # int64
    values: np.ndarray  # watts (kind "power") or cumulative joules (kind "energy"); NaN: none
    reasons: list[str]  # why a sample has no total, where one has none
    marks: list[dict] = field(default_factory=list)
    end: dict = field(default_factory=dict)
    clock_uncertainty_ns: int = 0
    gaps: list[tuple[int, int, int]] = field(default_factory=list)  # from, to (ns), polls lost

    @property
    def kind(self) -> str:
        return self.header.get("kind", "power")

    @property
    def source(self) -> str:
        return self.header.get("source", "?")


def read_log(path: Path) -> tuple[dict, list[dict], list[dict], dict]:
    """(header, samples, marks, end) of a power log; ValueError naming the file if broken."""
    records = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON record ({error})") from None
    if not records or records[0].get("type") != "header" or records[-1].get("type") != "end":
        raise ValueError(f"{path}: no header or no end record; the power log is incomplete")
    header, end = records[0], records[-1]
    if header.get("format_version") != POWER_FORMAT_VERSION:
        raise ValueError(
            f"{path}: power log format_version {header.get('format_version')!r}, this edgebench "
            f"reads {POWER_FORMAT_VERSION}"
        )
    samples = [r for r in records if r.get("type") == "sample"]
    marks = [r for r in records if r.get("type") == "mark"]
    return header, samples, marks, end


def host_to_device(
    run_header: dict, run_end: dict
) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """A map from host wall-clock ns to the device's monotonic ns, and its uncertainty (ns):
    host wall + offset (device minus host, measured over the connection; 0 on this machine)
    is device wall, placed on the monotonic clock between the header's and end's anchors."""
    host_clock = run_header.get("host_clock") or {}
    offset = host_clock.get("offset_ns", 0)
    first, last = run_header.get("wall_clock"), run_end.get("wall_clock")
    if not first:
        raise ValueError("the run log has no wall_clock anchor to place a host meter's samples")
    last = last or first
    span_wall = last["time_ns"] - first["time_ns"]
    rate = (last["monotonic_ns"] - first["monotonic_ns"]) / span_wall if span_wall > 0 else 1.0

    def convert(host_ns: np.ndarray) -> np.ndarray:
        device_wall = np.asarray(host_ns, dtype=np.float64) + offset
        return np.round(first["monotonic_ns"] + (device_wall - first["time_ns"]) * rate)

    uncertainty = host_clock.get("round_trip_ns", 0) // 2 + max(
        first.get("uncertainty_ns", 0), last.get("uncertainty_ns", 0)
    )
    return convert, int(uncertainty)


def _trace(header: dict, samples: list[dict]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    key = "joules" if header.get("kind") == "energy" else "watts"
    t = np.array([s["t_ns"] for s in samples], dtype=np.float64)
    values = np.array(
        [np.nan if s.get(key) is None else float(s[key]) for s in samples], dtype=np.float64
    )
    reasons = sorted({s["reason"] for s in samples if s.get(key) is None and s.get("reason")})
    order = np.argsort(t, kind="stable")
    return t[order], values[order], reasons


def load_trace(run_dir: Path, run_header: dict, run_end: dict) -> PowerTrace | None:
    """The run's power trace (None when it has no power log): the on-board samples of
    power.jsonl, or the host meter's of meter.jsonl placed on the device's clock, with
    power.jsonl's marks."""
    run_dir = Path(run_dir)
    marks_path, meter_path = run_dir / POWER_LOG, run_dir / METER_LOG
    if not marks_path.exists():
        return None
    header, samples, marks, end = read_log(marks_path)
    uncertainty = 0
    if meter_path.exists():
        header, samples, _, meter_end = read_log(meter_path)
        t, values, reasons = _trace(header, samples)
        convert, uncertainty = host_to_device(run_header, run_end)
        t = convert(t)
        final = meter_end.get("final") or {}
        # where the meter places a sample within its refresh (a UM meter's stamp estimate)
        uncertainty += final.get("stamp_uncertainty_ns") or 0
        gaps = [
            (*(int(x) for x in convert(np.array([g["from_ns"], g["to_ns"]]))), g["polls"])
            for g in final.get("gaps", [])
        ]
        if meter_end.get("status") != "ok":
            end = meter_end
    else:
        t, values, reasons = _trace(header, samples)
        gaps = []
    return PowerTrace(header, t.astype(np.int64), values, reasons, marks, end, uncertainty, gaps)


# --- integration ----------------------------------------------------------------------------------


def _interpolate(t: np.ndarray, values: np.ndarray, at: float) -> float:
    return float(np.interp(at, t, values))


def window_energy(t: np.ndarray, values: np.ndarray, start: float, end: float, kind: str) -> float:
    """Joules between start and end (ns): the trapezoid integral of watts, interpolated at the
    edges; for an energy counter, the counter's difference interpolated at the edges."""
    if kind == "energy":
        return _interpolate(t, values, end) - _interpolate(t, values, start)
    inside = (t > start) & (t < end)
    times = np.concatenate([[start], t[inside], [end]])
    watts = np.concatenate(
        [[_interpolate(t, values, start)], values[inside], [_interpolate(t, values, end)]]
    )
    return float(np.trapezoid(watts, times) / NS)


@dataclass
class WindowFigure:
    energy_j: float | None
    duration_s: float
    samples: int
    reason: str | None = None

    @property
    def watts(self) -> float | None:
        return None if self.energy_j is None else self.energy_j / self.duration_s


def integrate(trace: PowerTrace, start: int, end: int, min_samples: int) -> WindowFigure:
    """The energy of one window, or None with the reason (too few samples, no total)."""
    valid = ~np.isnan(trace.values)
    t, values = trace.t_ns[valid], trace.values[valid]
    duration = (end - start) / NS
    inside = int(((t >= start) & (t <= end)).sum())
    if trace.reasons and not valid.any():
        return WindowFigure(None, duration, 0, "; ".join(trace.reasons))
    if inside < min_samples:
        return WindowFigure(
            None,
            duration,
            inside,
            f"{inside} {trace.source} sample(s) in a {duration:.3g} s window, fewer than "
            f"min_samples ({min_samples}): lengthen the window (timing min_s) or sample faster",
        )
    if t[0] > start or t[-1] < end:
        return WindowFigure(None, duration, inside, "the samples do not cover the window")
    return WindowFigure(window_energy(t, values, start, end, trace.kind), duration, inside)


def windows(marks: list[dict], name: str) -> dict[tuple, tuple[int, int]]:
    """{(batch, process): (start_ns, end_ns)} of the marks called `name` ("idle": key ())."""
    starts, spans = {}, {}
    for mark in marks:
        if mark.get("name") != name:
            continue
        key = (mark["batch"], mark.get("process", 0)) if name == "window" else ()
        if mark["edge"] == "start":
            starts[key] = mark["t_ns"]
        elif key in starts:
            spans[key] = (starts.pop(key), mark["t_ns"])
    return spans


def gap_note(trace: PowerTrace, batch: int) -> str | None:
    """What the meter lost inside a batch's windows (polls unanswered on a flaky link)."""
    spans = [span for (b, _), span in windows(trace.marks, "window").items() if b == batch]
    lost_s, polls = 0.0, 0
    for start, end, lost in trace.gaps:
        overlap = sum(max(0, min(end, e) - max(start, s)) for s, e in spans)
        if overlap > 0:
            lost_s, polls = lost_s + overlap / NS, polls + lost
    if not polls:
        return None
    return (
        f"the {trace.source} meter missed {polls} poll(s), {lost_s:.2g} s without a reading "
        "inside this batch's windows: the energy there is interpolated between the readings "
        "around the gap"
    )


def batch_power(trace: PowerTrace, min_samples: int = MIN_SAMPLES) -> dict[int, dict]:
    """Per batch size: power_w, power_energy_j, power_samples, idle_power_w, power_note, and
    power_clock_uncertainty_ms (how well a host meter's samples are placed; 0 on the board)."""
    if trace.end.get("status") not in (None, "ok"):
        note = f"power source {trace.source} failed: {trace.end.get('reason') or 'no reason'}"
        batches = {key[0] for key in windows(trace.marks, "window")}
        return {batch: {"power_note": note} for batch in batches}
    idle = windows(trace.marks, "idle").get(())
    idle_figure = integrate(trace, *idle, min_samples) if idle else None
    per_batch: dict[int, list[WindowFigure]] = {}
    for (batch, _), (start, end) in sorted(windows(trace.marks, "window").items()):
        per_batch.setdefault(batch, []).append(integrate(trace, start, end, min_samples))
    figures = {}
    for batch, parts in per_batch.items():
        reasons = [part.reason for part in parts if part.reason]
        row = {
            "power_samples": sum(part.samples for part in parts),
            "power_clock_uncertainty_ms": trace.clock_uncertainty_ns / 1e6,
        }
        if reasons:
            row["power_note"] = reasons[0]
        elif note := gap_note(trace, batch):
            row["power_note"] = note
        if not reasons:
            energy = sum(part.energy_j for part in parts)
            duration = sum(part.duration_s for part in parts)
            row.update(power_w=energy / duration, power_energy_j=energy)
        if idle_figure is not None:
            if idle_figure.energy_j is not None:
                row["idle_power_w"] = idle_figure.watts
            elif not reasons:  # power is there, idle power is not: say why
                notes = [row.get("power_note"), f"idle power: {idle_figure.reason}"]
                row["power_note"] = "; ".join(note for note in notes if note)
        figures[batch] = row
    return figures
