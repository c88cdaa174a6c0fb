"""Run-to-run comparison: ``edgebench compare OLD NEW`` (README, "Comparing runs").

Rows of the two result tables are matched by device, workload, format and batch. For each pair:

- latency: the ratio of medians (new / old) and a verdict, decided as asv decides it. A change is
  *significant* when a two-sided Mann-Whitney U test on the raw samples gives p < 0.002 (used only
  where the sample sizes allow such a p-value at all), else when the two medians' 99% intervals do
  not overlap; without raw samples (a table file alone) the table's 95% intervals are compared
  instead. The verdict is ``slower`` or ``faster`` only when the change is significant AND the
  ratio is beyond ``factor`` (1.10 by default) in that direction; otherwise ``no significant
  change``. A row that was ok and is now failed or unsupported is a regression too.
- accuracy: top-1 lower by more than ``accuracy_tolerance`` (absolute) is a regression.
- power: ``power_w`` higher by more than ``power_factor`` is a regression (both rows need it).
- notes: device facts, runtime, threads or model file that differ between the two runs.

``compare(old, new)`` returns the comparison as a DataFrame; ``main()`` is the console script.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from edgebench.fileio import atomic_path
from edgebench.metrics.stats import median_confidence_interval
from edgebench.rawlog import RawRun, read_run, run_key

FACTOR = 1.10  # asv compare's default: a change smaller than 10% is never reported
P_THRESHOLD = 0.002  # asv's threshold for the Mann-Whitney U test
INTERVAL_LEVEL = 0.99  # asv's fallback: non-overlapping 99% intervals of the median
ACCURACY_TOLERANCE = 0.01  # absolute top-1
POWER_FACTOR = 1.10
NS_PER_MS = 1_000_000
KEYS = ["device", "workload", "format", "batch"]
RUN_KEYS = KEYS[:3]
# Facts from the raw log's header compared between the two runs (docs/raw-format.md).
HEADER_FACTS = ["hostname", "cpu_model", "board", "kernel", "l4t_release", "governor", "os"]
TABLE_FACTS = ["hostname", "cpu_model"]  # what the table keeps of them

SLOWER, FASTER, SAME = "slower", "faster", "no significant change"
MANN_WHITNEY = "mann-whitney"
SAMPLE_INTERVALS = f"{INTERVAL_LEVEL:.0%} intervals"
TABLE_INTERVALS = "95% intervals (table)"


# --- statistics -----------------------------------------------------------------------------------


@dataclass
class Difference:
    """Whether two sets of latencies differ significantly, and which test said so."""

    different: bool
    test: str
    p_value: float | None = None


def min_p_value(n: int, m: int) -> float:
    """The smallest two-sided p-value the exact U test can give for sample sizes n and m."""
    if n == 0 or m == 0:
        return 1.0
    return min(1.0, 2 / math.comb(n + m, min(n, m)))


def mann_whitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the Mann-Whitney U test (scipy: exact for small samples without
    ties, else the normal approximation with tie and continuity correction)."""
    from scipy.stats import mannwhitneyu

    with np.errstate(all="ignore"):
        p = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return 1.0 if math.isnan(p) else p  # every value tied: no evidence of a difference


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[1] >= b[0] and a[0] <= b[1]


def is_different(
    old: np.ndarray | None,
    new: np.ndarray | None,
    old_interval: tuple[float, float] | None = None,
    new_interval: tuple[float, float] | None = None,
    p_threshold: float = P_THRESHOLD,
) -> Difference:
    """asv's ``is_different``: the U test where the samples allow p < p_threshold, else
    whether the medians' 99% intervals (from the samples) are disjoint; without samples, whether
    the given intervals are disjoint. Without either, no difference can be shown."""
    if old is not None and new is not None and len(old) and len(new):
        old, new = np.asarray(old, dtype=float), np.asarray(new, dtype=float)
        if min_p_value(len(old), len(new)) < p_threshold:
            p = mann_whitney_p(old, new)
            return Difference(p < p_threshold, MANN_WHITNEY, p)
        intervals = [median_confidence_interval(x, INTERVAL_LEVEL)[:2] for x in (old, new)]
        return Difference(not overlap(*intervals), SAMPLE_INTERVALS)
    if old_interval is None or new_interval is None:
        return Difference(False, "none (no samples or intervals)")
    if any(pd.isna(value) for value in (*old_interval, *new_interval)):
        return Difference(False, "none (no samples or intervals)")
    return Difference(not overlap(old_interval, new_interval), TABLE_INTERVALS)


def latency_verdict(ratio: float, difference: Difference, factor: float = FACTOR) -> str:
    """slower / faster when significant and beyond the factor (ratio = new / old median)."""
    if not difference.different or not np.isfinite(ratio):
        return SAME
    if ratio > factor:
        return SLOWER
    if ratio < 1 / factor:
        return FASTER
    return SAME


# --- reading a results folder or table ------------------------------------------------------------


@dataclass
class Results:
    """One side of a comparison: its table and, where found, its raw logs."""

    table_path: Path
    table: pd.DataFrame
    raw_dir: Path | None
    raw_paths: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    _runs: dict[tuple[str, str, str], RawRun | None] = field(default_factory=dict)

    def run(self, key: tuple[str, str, str]) -> RawRun | None:
        """The raw log of (device, workload, format), read on first use."""
        if key not in self._runs:
            path = self.raw_paths.get(key)
            self._runs[key] = read_run(path) if path else None
        return self._runs[key]

    def describe(self) -> str:
        raw = f"raw logs {self.raw_dir}" if self.raw_paths else "no raw logs: intervals only"
        return f"{self.table_path} ({raw})"


def locate(path: Path | str) -> tuple[Path, Path | None]:
    """(table, raw-log folder or None) of a project folder, a results folder, its tables folder
    or a table file. A table file in a results folder's tables/ uses that folder's raw logs."""
    path = Path(path)
    if path.is_file():
        if path.suffix not in (".csv", ".parquet"):
            raise ValueError(f"{path}: not a table (.csv or .parquet) or a results folder")
        raw = path.parent.parent / "raw"
        return path, raw if path.parent.name == "tables" and raw.is_dir() else None
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder")
    candidates = [path / "results" / "tables", path / "tables"]  # project or results folder
    if path.name == "tables":
        candidates.append(path)
    for tables in candidates:
        for name in ("results.parquet", "results.csv"):  # parquet keeps the column types
            if (tables / name).is_file():
                raw = tables.parent / "raw"
                return tables / name, raw if raw.is_dir() else None
    raise FileNotFoundError(
        f"{path}: no results/tables/results.parquet or results.csv (give a project folder, its "
        "results folder or a table file; the workflow's last steps write the table)"
    )


def read_table(path: Path) -> pd.DataFrame:
    table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = [name for name in [*KEYS, "status"] if name not in table.columns]
    if missing:
        raise ValueError(f"{path}: not a results table (no column {', '.join(missing)})")
    table = table.copy()
    table["batch"] = pd.to_numeric(table["batch"]).astype("Int64")
    duplicated = table.duplicated(KEYS)
    if duplicated.any():
        first = table.loc[duplicated, KEYS].iloc[0].tolist()
        raise ValueError(f"{path}: more than one row for {first}")
    return table


def load(path: Path | str) -> Results:
    """A results folder (or project folder, or table file) and the raw logs beside it."""
    table_path, raw_dir = locate(path)
    raw_paths = {}
    if raw_dir is not None:
        for raw_log in sorted(raw_dir.glob("*/*/*/run.jsonl")):
            raw_paths[run_key(raw_log)] = raw_log
    return Results(table_path, read_table(table_path), raw_dir, raw_paths)


# --- one pair of rows -----------------------------------------------------------------------------


def _value(row: pd.Series, column: str):
    value = row.get(column) if row is not None else None
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _flag(value) -> bool:
    return value is True or value == np.True_ or str(value) == "True"


def _samples_ms(results: Results, key: tuple, batch) -> np.ndarray | None:
    if batch is None:
        return None
    run = results.run(key)
    if run is None or int(batch) not in run.samples:
        return None
    samples = run.samples[int(batch)]
    return samples / NS_PER_MS if len(samples) else None


def _facts(results: Results, key: tuple, row: pd.Series) -> dict[str, str]:
    """What each side knows of the device, runtime and model: the raw header, else the table."""
    run = results.run(key) if results.raw_paths else None
    if run is not None:
        header = run.header
        facts = {name: (header.get("facts") or {}).get(name) for name in HEADER_FACTS}
        runtime = header.get("runtime") or {}
        if runtime.get("name") or runtime.get("version"):
            facts["runtime"] = f"{runtime.get('name') or '?'} {runtime.get('version') or '?'}"
        facts["threads"] = header.get("threads")
        facts["model"] = (header.get("model") or {}).get("sha256")
    else:
        facts = {name: _value(row, name) for name in TABLE_FACTS}
        name, version = _value(row, "runtime_name"), _value(row, "runtime_version")
        if name or version:
            facts["runtime"] = f"{name or '?'} {version or '?'}"
        facts["threads"] = _value(row, "threads")
    return {name: _text(value) for name, value in facts.items() if value is not None}


def _text(value) -> str:
    """A fact as text; 4.0 (a CSV's integer column with gaps) reads as 4, as in the header."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _fact_notes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    notes = []
    for name in old:
        if name in new and old[name] != new[name]:
            if name == "model":
                notes.append(f"model file differs (sha256 {old[name][:12]} -> {new[name][:12]})")
            else:
                notes.append(f"{name} differs ({old[name]} -> {new[name]})")
    return notes


def _compare_latency(old: Results, new: Results, key, batch, old_row, new_row, factor) -> dict:
    old_samples, new_samples = _samples_ms(old, key, batch), _samples_ms(new, key, batch)
    if old_samples is not None and new_samples is not None:
        old_median, new_median = float(np.median(old_samples)), float(np.median(new_samples))
        difference = is_different(old_samples, new_samples)
    else:
        old_median = _value(old_row, "latency_ms_median")
        new_median = _value(new_row, "latency_ms_median")
        intervals = [
            (_value(row, "latency_ms_ci_low"), _value(row, "latency_ms_ci_high"))
            for row in (old_row, new_row)
        ]
        intervals = [None if None in interval else interval for interval in intervals]
        difference = is_different(None, None, *intervals)
    ratio = new_median / old_median if old_median and new_median is not None else float("nan")
    return {
        "old_median_ms": old_median,
        "new_median_ms": new_median,
        "ratio": ratio,
        "old_runs": None if old_samples is None else len(old_samples),
        "new_runs": None if new_samples is None else len(new_samples),
        "test": difference.test,
        "p_value": difference.p_value,
        "verdict": latency_verdict(ratio, difference, factor),
    }


def _compare_accuracy(old_row, new_row, tolerance: float) -> dict:
    old_top1, new_top1 = _value(old_row, "accuracy_top1"), _value(new_row, "accuracy_top1")
    if old_top1 is None or new_top1 is None:
        return {"old_top1": old_top1, "new_top1": new_top1, "accuracy_change": None}
    change = float(new_top1) - float(old_top1)
    if change < -tolerance - 1e-9:  # the tolerance itself is allowed, despite float rounding
        verdict = "dropped"
    elif change > tolerance + 1e-9:
        verdict = "improved"
    else:
        verdict = "same"
    return {
        "old_top1": float(old_top1),
        "new_top1": float(new_top1),
        "accuracy_change": change,
        "accuracy": verdict,
    }


def _compare_power(old_row, new_row, power_factor: float) -> dict:
    old_w, new_w = _value(old_row, "power_w"), _value(new_row, "power_w")
    if old_w is None or new_w is None or not old_w:
        return {"old_power_w": old_w, "new_power_w": new_w}
    ratio = float(new_w) / float(old_w)
    verdict = "higher" if ratio > power_factor else "lower" if ratio < 1 / power_factor else "same"
    return {
        "old_power_w": float(old_w),
        "new_power_w": float(new_w),
        "power_ratio": ratio,
        "power": verdict,
    }


def _compare_row(
    old: Results,
    new: Results,
    key: tuple,
    old_row: pd.Series | None,
    new_row: pd.Series | None,
    settings: dict,
) -> dict:
    run_id, batch = key[:3], key[3]
    old_status, new_status = _value(old_row, "status"), _value(new_row, "status")
    out = dict(zip(KEYS, key, strict=True))
    out |= {"old_status": old_status, "new_status": new_status}
    notes, regressed = [], False
    if old_row is None or new_row is None:
        out["verdict"] = "only in old" if new_row is None else "only in new"
    elif old_status == "ok" and new_status == "ok":
        out |= _compare_latency(old, new, run_id, batch, old_row, new_row, settings["factor"])
        out |= _compare_accuracy(old_row, new_row, settings["accuracy_tolerance"])
        out |= _compare_power(old_row, new_row, settings["power_factor"])
        regressed = (
            out["verdict"] == SLOWER
            or out.get("accuracy") == "dropped"
            or out.get("power") == "higher"
        )
        if out.get("test") == TABLE_INTERVALS:
            notes.append("no raw samples: the table's 95% intervals decided")
        for side, row in (("old", old_row), ("new", new_row)):
            if _flag(row.get("unstable")):
                notes.append(f"{side} run unstable")
        old_n, new_n = _value(old_row, "accuracy_samples"), _value(new_row, "accuracy_samples")
        if old_n is not None and new_n is not None and int(old_n) != int(new_n):
            notes.append(f"accuracy scored on {int(old_n)} -> {int(new_n)} samples")
    elif old_status == "ok":
        out["verdict"] = f"now {new_status}"
        notes.append(str(_value(new_row, "reason") or ""))
        regressed = True
    elif new_status == "ok":
        out["verdict"] = "now ok"
    else:
        same = old_status == new_status
        out["verdict"] = f"{old_status} in both" if same else f"{old_status} -> {new_status}"
    if old_row is not None and new_row is not None:
        old_facts, new_facts = _facts(old, run_id, old_row), _facts(new, run_id, new_row)
        notes = _fact_notes(old_facts, new_facts) + notes
    out["regressed"] = regressed
    out["notes"] = "; ".join(note for note in notes if note)
    return out


# --- the comparison -------------------------------------------------------------------------------

COLUMNS = [
    *KEYS,
    "verdict",
    "ratio",
    "old_median_ms",
    "new_median_ms",
    "test",
    "p_value",
    "old_runs",
    "new_runs",
    "accuracy",
    "old_top1",
    "new_top1",
    "accuracy_change",
    "power",
    "old_power_w",
    "new_power_w",
    "power_ratio",
    "regressed",
    "old_status",
    "new_status",
    "notes",
]


def _rows_by_key(table: pd.DataFrame) -> dict[tuple, pd.Series]:
    """Each row by (device, workload, format, batch), batch None where nothing ran."""
    rows = {}
    for _, row in table.iterrows():
        batch = row["batch"]
        rows[
            (row["device"], row["workload"], row["format"], None if pd.isna(batch) else int(batch))
        ] = row
    return rows


def _spread_run_rows(old: dict[tuple, pd.Series], new: dict[tuple, pd.Series]) -> list[dict]:
    """A run that ran no batch (failed, unsupported) has one row without a batch; where the
    other side ran that run's batches, the row stands for each of them, so that a run that
    now fails is matched with every batch it used to run."""
    old, new = dict(old), dict(new)
    for side, other in ((old, new), (new, old)):
        for key in [key for key in side if key[3] is None and key not in other]:
            batches = [k for k in other if k[:3] == key[:3] and k[3] is not None]
            if batches:
                row = side.pop(key)
                for batch_key in batches:
                    side.setdefault(batch_key, row)
    return [old, new]


def compare(
    old: Results | Path | str,
    new: Results | Path | str,
    *,
    factor: float = FACTOR,
    accuracy_tolerance: float = ACCURACY_TOLERANCE,
    power_factor: float = POWER_FACTOR,
) -> pd.DataFrame:
    """One row per device x workload x format x batch of either side (COLUMNS); `regressed`
    marks what made ``edgebench compare`` exit non-zero."""
    if factor < 1 or power_factor < 1:
        raise ValueError("factor and power_factor are ratios >= 1 (e.g. 1.10 for 10%)")
    old = old if isinstance(old, Results) else load(old)
    new = new if isinstance(new, Results) else load(new)
    settings = {
        "factor": factor,
        "accuracy_tolerance": accuracy_tolerance,
        "power_factor": power_factor,
    }
    sides = _spread_run_rows(*(_rows_by_key(results.table) for results in (old, new)))
    keys = list(sides[0]) + [key for key in sides[1] if key not in sides[0]]
    rows = [
        _compare_row(old, new, key, sides[0].get(key), sides[1].get(key), settings) for key in keys
    ]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in ("batch", "old_runs", "new_runs"):
        frame[column] = frame[column].astype("Int64")
    frame["regressed"] = frame["regressed"].astype(bool)
    return frame.sort_values(KEYS, na_position="first", kind="stable", ignore_index=True)


def summary(frame: pd.DataFrame) -> str:
    counts = frame["verdict"].value_counts()
    order = [SLOWER, FASTER, SAME]
    parts = [f"{counts[name]} {name}" for name in order if name in counts]
    parts += [f"{count} {name}" for name, count in counts.items() if name not in order]
    extra = []
    for column, bad in (("accuracy", "dropped"), ("power", "higher")):
        if column in frame and frame[column].eq(bad).any():
            extra.append(f"{int(frame[column].eq(bad).sum())} {column} {bad}")
    text = f"{len(frame)} rows: " + ", ".join(parts)
    if extra:
        text += "; " + ", ".join(extra)
    regressed = int(frame["regressed"].sum())
    return text + (f"; {regressed} regressed" if regressed else "; nothing regressed")


# --- output ---------------------------------------------------------------------------------------


def _fmt(value, spec: str = "") -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    return format(value, spec) if spec else str(value)


def _display(frame: pd.DataFrame) -> list[list[str]]:
    rows = []
    for row in frame.itertuples(index=False):
        accuracy = _fmt(row.accuracy)
        if accuracy:
            accuracy += f" ({row.accuracy_change:+.3f})"
        power = _fmt(row.power)
        if power:
            power += f" (x{row.power_ratio:.2f})"
        rows.append(
            [
                "!" if row.regressed else "",
                row.device,
                row.workload,
                row.format,
                _fmt(row.batch),
                _fmt(row.old_median_ms, ".4g"),
                _fmt(row.new_median_ms, ".4g"),
                _fmt(row.ratio, ".3f"),
                row.verdict,
                _fmt(row.test),
                accuracy,
                power,
                _fmt(row.notes),
            ]
        )
    return rows


HEADINGS = [
    "",
    "device",
    "workload",
    "format",
    "batch",
    "old ms",
    "new ms",
    "ratio",
    "verdict",
    "test",
    "accuracy",
    "power",
    "notes",
]


def text_table(frame: pd.DataFrame) -> str:
    rows = [HEADINGS, *_display(frame)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADINGS) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def settings_line(factor: float, accuracy_tolerance: float, power_factor: float) -> str:
    return (
        f"slower/faster: ratio of medians beyond x{factor:.2f} and significant (Mann-Whitney U "
        f"p < {P_THRESHOLD} on the raw samples, else non-overlapping {SAMPLE_INTERVALS}; table "
        f"files alone: non-overlapping 95% intervals); accuracy: top-1 drop beyond "
        f"{accuracy_tolerance:g}; power: power_w beyond x{power_factor:.2f}"
    )


HTML_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td:nth-child(-n+12) { white-space: nowrap; }
tr.regressed td { background: #fde2e2; }
tr.improved td { background: #e2f5e2; }
"""
NUMERIC = {5, 6, 7}


def html_page(frame: pd.DataFrame, old: str, new: str, settings: str) -> str:
    """A self-contained page: the two sources, the settings, the summary and the table."""
    head = "".join(f"<th>{html.escape(name)}</th>" for name in HEADINGS)
    body = []
    for row, cells in zip(frame.itertuples(index=False), _display(frame), strict=True):
        improved = row.verdict in (FASTER, "now ok") or row.accuracy == "improved"
        css = "regressed" if row.regressed else "improved" if improved else ""
        tds = "".join(
            f"<td{' class=num' if i in NUMERIC else ''}>{html.escape(cell)}</td>"
            for i, cell in enumerate(cells)
        )
        body.append(f'<tr class="{css}">{tds}</tr>')
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        "<title>edgebench compare</title>"
        f"<style>{HTML_STYLE}</style></head><body>\n"
        "<h1>edgebench compare</h1>\n"
        f"<p>old: <code>{html.escape(old)}</code><br>new: <code>{html.escape(new)}</code></p>\n"
        f"<p>{html.escape(settings)}</p>\n"
        f"<p><strong>{html.escape(summary(frame))}</strong></p>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>"
        "\n</body></html>\n"
    )


def write(frame: pd.DataFrame, out_dir: Path | str, page: str) -> tuple[Path, Path]:
    """comparison.csv and comparison.html in out_dir, each written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, html_path = out_dir / "comparison.csv", out_dir / "comparison.html"
    with atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    with atomic_path(html_path) as tmp:
        tmp.write_text(page)
    return csv_path, html_path


# --- the console script ---------------------------------------------------------------------------


def _ratio(text: str) -> float:
    value = float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: a ratio >= 1, e.g. 1.10 for 10%")
    return value


def _tolerance(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text}: an absolute top-1 difference >= 0, e.g. 0.01")
    return value


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="edgebench", description="edgebench tools")
    commands = main_parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "compare",
        help="compare two benchmark runs; exit 1 when something regressed",
        description=(
            "Match the rows of two result tables by device, workload, format and batch and say, "
            "for each, whether the new run is faster, slower or not significantly different, "
            "and whether accuracy or power regressed. Exit status: 0 nothing regressed, "
            "1 something regressed, 2 the inputs could not be read."
        ),
    )
    command.add_argument("old", help="results folder, project folder or table file (baseline)")
    command.add_argument("new", help="results folder, project folder or table file (candidate)")
    command.add_argument(
        "--factor",
        type=_ratio,
        default=FACTOR,
        help=f"smallest ratio of medians reported as slower/faster (default {FACTOR})",
    )
    command.add_argument(
        "--accuracy-tolerance",
        type=_tolerance,
        default=ACCURACY_TOLERANCE,
        help=f"largest top-1 drop (absolute) that is no regression (default {ACCURACY_TOLERANCE})",
    )
    command.add_argument(
        "--power-factor",
        type=_ratio,
        default=POWER_FACTOR,
        help=f"largest power_w ratio not called a regression (default {POWER_FACTOR})",
    )
    command.add_argument(
        "--out", type=Path, help="write comparison.csv and comparison.html in this folder"
    )
    command.add_argument(
        "--only-changed",
        action="store_true",
        help="print only rows that are not 'no significant change' (the files keep every row)",
    )
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        old, new = load(args.old), load(args.new)
        frame = compare(
            old,
            new,
            factor=args.factor,
            accuracy_tolerance=args.accuracy_tolerance,
            power_factor=args.power_factor,
        )
    except (OSError, ValueError) as error:
        print(f"edgebench compare: {error}", file=sys.stderr)
        return 2
    settings = settings_line(args.factor, args.accuracy_tolerance, args.power_factor)
    shown = frame
    if args.only_changed:
        changed = (
            frame["verdict"].ne(SAME)
            | frame["regressed"]
            | frame["accuracy"].isin(["dropped", "improved"])
            | frame["power"].isin(["higher", "lower"])
        )
        shown = frame[changed]
    print(f"old: {old.describe()}")
    print(f"new: {new.describe()}")
    print(settings)
    print()
    print(text_table(shown))
    print()
    print(summary(frame))
    if args.out is not None:
        csv_path, html_path = write(
            frame, args.out, html_page(frame, old.describe(), new.describe(), settings)
        )
        print(f"wrote {csv_path} and {html_path}")
    return 1 if frame["regressed"].any() else 0


if __name__ == "__main__":
    sys.exit(main())
