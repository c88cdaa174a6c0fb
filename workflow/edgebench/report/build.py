"""Assemble results/report/index.html from the table, the device digests and the run's context.

The expensive part, reading every raw sample, happens once per device (``data.device_digest``);
this step only reads the tidy table and the small digests, so rebuilding the page is cheap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import edgebench
from edgebench.compare.pair import Comparison, compare_results
from edgebench.fileio import (
    atomic_path,
    read_conversion_record,
    read_device_digest,
    read_image_record,
)
from edgebench.rawlog import KEYS
from edgebench.report.page import Charts, render_page
from edgebench.report.sections import SECTIONS

FACT_KEYS = [
    "hostname",
    "cpu_model",
    "cpu_count",
    "machine",
    "os",
    "kernel",
    "python",
    "governor",
    "board",
    "l4t_release",
]


MAX_TRACES = 12  # power trace charts on one page; every trace stays in its power.jsonl


@dataclass
class Report:
    """Everything one report page is drawn from.

    table: the tidy result table; digests: ``data.device_digest()`` of each device;
    conversions: the {format}.json records; images: results/images/*.json records;
    context: {"config": ..., "suite_name": ..., "suite": ..., "devices": {name: profile}}.
    """

    table: pd.DataFrame
    digests: list[dict] = field(default_factory=list)
    conversions: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    context: dict = field(default_factory=dict)
    comparison: Comparison | None = None  # against context["baseline"], where one is named
    comparison_error: str | None = None

    def __post_init__(self) -> None:
        self.table = self.table.reset_index(drop=True)
        planned = set(self.table["device"])
        self.digests = [d for d in self.digests if d["device"] in planned]

    # --- frames the sections draw -----------------------------------------------------------

    def _keys(self) -> set[tuple[str, str, str]]:
        return set(self.table[KEYS].itertuples(index=False, name=None))

    def _runs(self):
        """(digest, run) of every run the table reports on."""
        keys = self._keys()
        for digest in self.digests:
            for run in digest["runs"]:
                if (digest["device"], run["workload"], run["format"]) in keys:
                    yield digest, run

    def profiles(self) -> dict[str, dict]:
        profiles = dict(self.context.get("devices") or {})
        for digest in self.digests:
            profiles.setdefault(digest["device"], digest.get("profile") or {})
        return profiles

    def device_frame(self) -> pd.DataFrame:
        profiles = self.profiles()
        facts = {d["device"]: d.get("facts") or {} for d in self.digests}
        rows = []
        for device in dict.fromkeys(self.table["device"]):
            profile = profiles.get(device, {})
            rows.append(
                {
                    "device": device,
                    "description": profile.get("description"),
                    "transport": profile.get("transport"),
                    "power_source": (profile.get("power") or {}).get("source"),
                    "cpu_model": facts.get(device, {}).get("cpu_model"),
                    "hostname": facts.get(device, {}).get("hostname"),
                }
            )
        return pd.DataFrame(rows)

    def box_frame(self) -> pd.DataFrame:
        """Box statistics of each run's smallest batch that ran, one row per run."""
        groups = {}
        if "group" in self.table.columns:
            groups = dict(zip(self.table["workload"], self.table["group"], strict=True))
        rows = []
        for digest, run in self._runs():
            ran = [b for b in run["batches"] if b.get("status") == "ok" and "median" in b]
            if not ran:
                continue
            first = min(ran, key=lambda b: b["batch"])
            rows.append(
                {
                    "device": digest["device"],
                    "workload": run["workload"],
                    "format": run["format"],
                    "group": groups.get(run["workload"]) or "models",
                    **first,
                }
            )
        return pd.DataFrame(rows)

    def facts_frame(self) -> pd.DataFrame:
        rows = [
            {"device": d["device"], **{k: (d.get("facts") or {}).get(k) for k in FACT_KEYS}}
            for d in self.digests
        ]
        frame = pd.DataFrame(rows)
        return frame.dropna(axis=1, how="all") if not frame.empty else frame

    def runtime_frame(self) -> pd.DataFrame:
        details = {}
        if "runtime_details" in self.table.columns:
            for r in self.table.dropna(subset=["runtime_details"]).itertuples():
                details.setdefault((r.device, r.format), {})[r.runtime_details] = None
        rows = []
        for digest, run in self._runs():
            runtime = run.get("runtime") or {}
            if not runtime:
                continue
            timing = run.get("timing") or {}
            rows.append(
                {
                    "device": digest["device"],
                    "format": run["format"],
                    "runtime": runtime.get("name"),
                    "version": runtime.get("version"),
                    "threads": "runtime default" if run.get("threads") is None else run["threads"],
                    "timing": ", ".join(f"{k}={v}" for k, v in sorted(timing.items())),
                    "details": " | ".join(details.get((digest["device"], run["format"]), {})),
                }
            )
        frame = pd.DataFrame(rows)
        return frame.drop_duplicates().reset_index(drop=True) if not frame.empty else frame

    def converter_frame(self) -> pd.DataFrame:
        pairs = set(zip(self.table["workload"], self.table["format"], strict=True))
        rows = {}
        for record in self.conversions:
            if (record.get("workload"), record.get("format")) not in pairs:
                continue
            versions = record.get("tool_versions") or {}
            key = (
                record.get("format"),
                record.get("engine"),
                record.get("image"),
                ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
            )
            entry = rows.setdefault(key, {"workloads": 0, "statuses": set()})
            entry["workloads"] += 1
            entry["statuses"].add(record.get("status"))
        frame = pd.DataFrame(
            [
                {
                    "format": fmt,
                    "engine": engine,
                    "image": image,
                    "tool_versions": versions,
                    "workloads": entry["workloads"],
                    "statuses": ", ".join(sorted(s for s in entry["statuses"] if s)),
                }
                for (fmt, engine, image, versions), entry in rows.items()
            ]
        )
        return frame.sort_values("format").reset_index(drop=True) if not frame.empty else frame

    def model_frame(self) -> pd.DataFrame:
        pairs = set(zip(self.table["workload"], self.table["format"], strict=True))
        ran = {}
        for digest, run in self._runs():
            sha = (run.get("model") or {}).get("sha256")
            if sha:
                ran.setdefault((run["workload"], run["format"]), []).append((digest["device"], sha))
        rows = []
        for record in self.conversions:
            key = (record.get("workload"), record.get("format"))
            if key not in pairs:
                continue
            sha = record.get("sha256")
            devices = ran.get(key, [])
            same = [d for d, s in devices if s == sha]
            other = [f"{d} (DIFFERENT file {s[:12]}…)" for d, s in devices if s != sha]
            rows.append(
                {
                    "workload": key[0],
                    "format": key[1],
                    "status": record.get("status"),
                    "size_bytes": record.get("size_bytes"),
                    "sha256": sha,
                    "ran_on": ", ".join(same + other),
                }
            )
        return pd.DataFrame(rows)

    def power_traces(self, limit: int = MAX_TRACES) -> list[dict]:
        """The power traces drawn: model runs first, at most `limit`."""
        groups = {}
        if "group" in self.table.columns:
            groups = dict(zip(self.table["workload"], self.table["group"], strict=True))
        traces = [
            {"device": d["device"], "workload": r["workload"], "format": r["format"], **r["power"]}
            for d, r in self._runs()
            if r.get("power")
        ]
        traces.sort(key=lambda t: groups.get(t["workload"]) != "models")
        return traces[:limit]

    def context_for_display(self) -> dict:
        context = self.context
        shown = {}
        if context.get("config") is not None:
            shown["config"] = context["config"]
        if context.get("suite") is not None:
            shown["suite"] = {context.get("suite_name", "suite"): context["suite"]}
        profiles = self.profiles()
        if profiles:
            shown["devices"] = profiles
        return _plain(shown)

    # --- the page -----------------------------------------------------------------------------

    def subtitle(self) -> str:
        devices = list(dict.fromkeys(self.table["device"]))
        suite = self.context.get("suite_name")
        parts = [f"suite {suite}"] if suite else []
        parts.append(
            f"{len(devices)} device{'s' if len(devices) != 1 else ''}: " + ", ".join(devices)
        )
        parts.append("generated " + dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
        return " · ".join(parts)

    def html(self) -> str:
        import plotly

        charts = Charts()
        sections = [s for s in (build(self, charts) for build in SECTIONS) if s is not None]
        footer = f"edgebench {edgebench.__version__} · plotly {plotly.__version__}"
        return render_page("edgebench report", self.subtitle(), sections, footer)

    def write(self, path: Path | str) -> Path:
        path = Path(path)
        page = self.html()
        with atomic_path(path) as tmp:
            tmp.write_text(page, encoding="utf-8")
        return path


def _plain(value):
    """Config values as plain YAML-safe types (Snakemake hands over its own mapping types)."""
    if isinstance(value, dict) or hasattr(value, "items"):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def read_table(path: Path | str) -> pd.DataFrame:
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def load_report(
    table: Path | str,
    digests: list[Path | str] = (),
    conversions: list[Path | str] = (),
    images: list[Path | str] = (),
    context: dict | None = None,
) -> Report:
    """A Report from the workflow's files (the table, digests, conversion and image records);
    with ``context["baseline"]``, this run's results compared against those."""
    context = context or {}
    comparison, error = None, None
    if context.get("baseline"):
        try:
            comparison = compare_results(Path(context["baseline"]).expanduser(), table)
        except (OSError, ValueError) as problem:
            error = str(problem)
    return Report(
        table=read_table(table),
        digests=[read_device_digest(p) for p in digests],
        conversions=[read_conversion_record(p) for p in conversions],
        images=[read_image_record(p) for p in images],
        context=context,
        comparison=comparison,
        comparison_error=error,
    )
