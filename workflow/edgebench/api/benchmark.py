"""Benchmarks for notebooks and scripts, as NeurIO and dlmark offer them.

    from edgebench import LayerBasedBenchmark, Device

    result = LayerBasedBenchmark().run_on(Device.from_profile("local"))
    result.table            # pandas DataFrame: one row per device x block x format x batch
    result.raw_logs         # the run.jsonl files the table was computed from
    result.to_html("layers.html")

A benchmark is a selection (the layer blocks, the cell blocks or the models, optionally fewer of
them and fewer formats) run through the same Snakemake workflow as the command line, via
Snakemake's Python API: results and caches are shared with `snakemake` runs in the same project.
The suite (config/suites/NAME.yaml) supplies weights, timing and batch sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pandas as pd

from edgebench import paths
from edgebench.api.workflow import find_project, run_workflow
from edgebench.fileio import read_conversion_record, read_device_digest, read_image_record
from edgebench.formats import FORMATS
from edgebench.metrics.tables import KEYS
from edgebench.settings import ConfigError, load_catalog, load_plan
from edgebench.settings.errors import unknown
from edgebench.settings.files import read_yaml
from edgebench.settings.plan import load_device, resolved_config

TABLE = paths.TABLE_PARQUET
REPORT = paths.REPORT


@dataclass
class Device:
    """A device profile (devices/NAME.yaml) of a project."""

    name: str
    profile: dict
    project: Path

    @classmethod
    def from_profile(cls, name: str, project: Path | str | None = None) -> Device:
        """Load and validate devices/NAME.yaml; an unknown name lists the valid ones."""
        root = find_project(project)
        return cls(name=name, profile=load_device(name, root), project=root)

    def __repr__(self) -> str:
        return f"Device({self.name!r}, transport={self.profile['transport']!r})"


@dataclass
class BenchmarkResult:
    """What one benchmark run produced.

    table: the tidy table of this benchmark's rows (docs: README "Tables"); raw_logs: the
    run.jsonl of every run; report: the workflow's HTML report of this run.
    """

    table: pd.DataFrame
    raw_logs: list[Path]
    report: Path
    project: Path
    config: dict
    context: dict = field(repr=False, default_factory=dict)

    @classmethod
    def collect(cls, project: Path, config: dict) -> BenchmarkResult:
        plan = load_plan(config, root=project)
        table = pd.read_parquet(project / TABLE)
        planned = pd.DataFrame(plan.run_rows(), columns=KEYS).drop_duplicates()
        table = table.merge(planned, on=KEYS, how="inner").reset_index(drop=True)
        raw_logs = [project / paths.raw_log(*key) for key in plan.runs()]
        defaults = read_yaml(project / "config" / "config.yaml") or {}
        context = {
            "config": resolved_config({**defaults, **config}),
            "suite_name": plan.suite_name,
            "suite": plan.suite,
            "devices": plan.devices,
        }
        return cls(table, raw_logs, project / REPORT, project, config, context)

    @property
    def devices(self) -> list[str]:
        return list(dict.fromkeys(self.table["device"]))

    def to_html(self, path: Path | str) -> Path:
        """Write a self-contained HTML report of this result to `path`; return the path."""
        from edgebench.report.build import Report

        digests = [self.project / paths.device_digest(d) for d in self.devices]
        pairs = dict.fromkeys(zip(self.table["workload"], self.table["format"], strict=True))
        conversions = [self.project / paths.conversion_record(w, f) for w, f in pairs]
        report = Report(
            table=self.table,
            digests=[read_device_digest(p) for p in digests if p.is_file()],
            conversions=[read_conversion_record(p) for p in conversions if p.is_file()],
            images=[
                read_image_record(p) for p in sorted(self.project.glob(paths.image_record("*")))
            ],
            context=self.context,
        )
        return report.write(path)

    def __repr__(self) -> str:
        status = self.table["status"].value_counts().to_dict()
        return (
            f"BenchmarkResult({len(self.table)} rows on {', '.join(self.devices)}: {status}; "
            f"{len(self.raw_logs)} raw logs; report {self.report})"
        )


class Benchmark:
    """A selection of workloads of one group, and the formats to convert them to."""

    group: ClassVar[str] = ""
    kind: ClassVar[str] = "workload"
    default_suite: ClassVar[str] = "quick"

    def __init__(
        self,
        workloads: list[str] | None = None,
        formats: list[str] | None = None,
        suite: str | None = None,
        project: Path | str | None = None,
    ):
        self.project = find_project(project)
        self.suite = suite or self.default_suite
        catalog = load_catalog(self.project)
        members = [name for name, spec in catalog.items() if spec.group == self.group]
        if workloads is None:
            self.workloads = members
        else:
            self.workloads = list(dict.fromkeys(workloads))
            for name in self.workloads:
                if name not in members:
                    raise unknown(self.kind, name, members, type(self).__name__)
        if not self.workloads:
            raise ConfigError(f"{type(self).__name__} selects no workload")
        self.formats = list(formats) if formats is not None else None
        for fmt in self.formats or []:
            if fmt not in FORMATS:
                raise unknown("format", fmt, FORMATS, type(self).__name__)

    def config(self, *devices: Device | str, containers: str | None = None) -> dict:
        """The workflow config (`--config`) this benchmark runs with."""
        names = [d.name if isinstance(d, Device) else str(d) for d in devices] or ["local"]
        config = {"devices": names, "suite": self.suite, "workloads": self.workloads}
        if self.formats is not None:
            config["formats"] = self.formats
        if containers is not None:
            config["containers"] = containers
        return config

    def run_on(
        self,
        *devices: Device | str,
        cores: int | None = None,
        containers: str | None = None,
        verbose: bool = False,
    ) -> BenchmarkResult:
        """Run on the devices (default: local) and return the result; raises WorkflowFailed."""
        for device in devices:
            if isinstance(device, Device) and device.project != self.project:
                raise ValueError(
                    f"device {device.name!r} comes from {device.project}, "
                    f"the benchmark runs in {self.project}"
                )
        config = self.config(*devices, containers=containers)
        load_plan(config, root=self.project)  # a bad name stops here, before Snakemake starts
        run_workflow(self.project, config, cores=cores, verbose=verbose)
        return BenchmarkResult.collect(self.project, config)

    def __repr__(self) -> str:
        formats = self.formats if self.formats is not None else f"suite {self.suite}'s"
        return f"{type(self).__name__}({len(self.workloads)} workloads, formats {formats})"


class LayerBasedBenchmark(Benchmark):
    """NeurIO's layer blocks (config/blocks.yaml, group layer), each in its configurations."""

    group = "layer-blocks"
    kind = "layer block"
    default_suite = "blocks"

    def __init__(self, blocks=None, formats=None, suite=None, project=None):
        super().__init__(blocks, formats, suite, project)


class CellBasedBenchmark(Benchmark):
    """NeurIO's cell blocks (config/blocks.yaml, group cell): skip, ResNet, DenseNet, ..."""

    group = "cell-blocks"
    kind = "cell block"
    default_suite = "blocks"

    def __init__(self, blocks=None, formats=None, suite=None, project=None):
        super().__init__(blocks, formats, suite, project)


class ModelBenchmark(Benchmark):
    """Whole models (config/models.yaml), with the suite's batch sweep and accuracy pass."""

    group = "models"
    kind = "model"
    default_suite = "full"

    def __init__(self, models=None, formats=None, suite=None, project=None):
        super().__init__(models, formats, suite, project)
