"""One side of a comparison: a results folder, project folder or table file, its table and the
raw logs beside it (read on first use)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from edgebench.rawlog import RawRun, read_run, run_key

KEYS = ["device", "workload", "format", "batch"]
RUN_KEYS = KEYS[:3]


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
