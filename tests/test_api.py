"""The Python API on a tiny suite: it drives the real workflow, shares results with the CLI."""

from __future__ import annotations

import contextlib
import io
import shutil

import pandas as pd
import plotly.offline
import pytest
import yaml
from conftest import Project, need
from edgebench import (
    CellBasedBenchmark,
    Device,
    LayerBasedBenchmark,
    ModelBenchmark,
    load_results,
)
from edgebench.api import BenchmarkResult
from edgebench.settings import ConfigError, load_plan

BLOCK = "layer-fc-128-32"
FORMATS = ["tflite-fp32", "edgetpu-int8"]  # no Edge TPU compiler here: an unsupported row
TINY_SUITE = {
    "description": "API test suite",
    "weights": "random",
    "workloads": [BLOCK],
    "formats": ["tflite-fp32"],
    "calibration_samples": 8,
    "batch_sizes": [1],
    "timing": {"warmup_runs": 2, "warmup_s": 0.0, "min_runs": 20, "min_s": 0.05, "max_s": 1.0},
}
SAME_CONFIG_ON_THE_COMMAND_LINE = [
    "--config",
    "suite=tiny",
    f"workloads={BLOCK}",
    "formats=" + ",".join(FORMATS),
]


@pytest.fixture
def project(tmp_path) -> Project:
    project = Project(tmp_path / "project")
    project.write_yaml("config/suites/tiny.yaml", TINY_SUITE)
    return project


# --- selections, without running ------------------------------------------------------------------


def test_benchmarks_select_their_group(project):
    layers = LayerBasedBenchmark(project=project.root)
    cells = CellBasedBenchmark(project=project.root)
    models = ModelBenchmark(project=project.root)
    assert len(layers.workloads) == 60 and all(w.startswith("layer-") for w in layers.workloads)
    assert len(cells.workloads) == 22 and all(w.startswith("cell-") for w in cells.workloads)
    assert "mobilenetv2" in models.workloads and "digits-cnn" in models.workloads
    assert layers.suite == "blocks" and models.suite == "full"


def test_a_subset_becomes_the_workflow_config(project):
    benchmark = LayerBasedBenchmark(
        blocks=[BLOCK], formats=FORMATS, suite="tiny", project=project.root
    )
    device = Device.from_profile("local", project=project.root)
    config = benchmark.config(device)
    assert config == {
        "devices": ["local"],
        "suite": "tiny",
        "workloads": [BLOCK],
        "formats": FORMATS,
    }
    plan = load_plan(config, root=project.root)
    assert list(plan.workloads) == [BLOCK] and plan.formats == FORMATS
    assert plan.suite["timing"] == TINY_SUITE["timing"]


def test_wrong_names_are_refused_before_anything_runs(project):
    with pytest.raises(ConfigError, match="layer-fc-128-32"):
        LayerBasedBenchmark(blocks=["cell-skip-add-2"], project=project.root)
    with pytest.raises(ConfigError, match="tflite-int8"):
        CellBasedBenchmark(formats=["tflite-int4"], project=project.root)
    with pytest.raises(ConfigError, match="local"):
        Device.from_profile("jetsn", project=project.root)


# --- one real run ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The tiny suite through the API: one block, one real and one unsupported format."""
    project = Project(tmp_path_factory.mktemp("api") / "project")
    project.write_yaml("config/suites/tiny.yaml", TINY_SUITE)
    benchmark = LayerBasedBenchmark(
        blocks=[BLOCK], formats=FORMATS, suite="tiny", project=project.root
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = benchmark.run_on(Device.from_profile("local", project=project.root), cores=2)
    return project, result, printed.getvalue()


@pytest.mark.integration
def test_run_on_returns_the_documented_result(run):
    project, result, _ = run
    assert isinstance(result, BenchmarkResult) and isinstance(result.table, pd.DataFrame)
    rows = result.table.set_index("format")
    assert (
        rows.loc["tflite-fp32", "status"] == "ok" and rows.loc["tflite-fp32", "throughput_ips"] > 0
    )
    assert rows.loc["edgetpu-int8", "status"] == "unsupported"
    assert result.raw_logs == [project.root / f"results/raw/local/{BLOCK}/tflite-fp32/run.jsonl"]
    assert all(path.is_file() for path in result.raw_logs)
    assert result.report == project.root / "results/report/index.html" and result.report.is_file()
    assert result.devices == ["local"]


@pytest.mark.integration
def test_the_run_says_where_the_report_is(run):
    project, _, printed = run
    assert f"edgebench report: {project.root / 'results/report/index.html'}" in printed


@pytest.mark.integration
def test_to_html_writes_a_self_contained_report(run, tmp_path):
    _, result, _ = run
    page = result.to_html(tmp_path / "mine.html").read_text()
    assert page.count(plotly.offline.get_plotlyjs()[:400]) == 1
    assert BLOCK in page and "unsupported" in page


@pytest.mark.integration
def test_load_results_reads_the_raw_logs_and_the_table(run):
    project, result, _ = run
    raw = load_results(project.root / "results/raw/**/run.jsonl")
    assert raw.workload.tolist() == [BLOCK] and raw.group.tolist() == ["layer-blocks"]
    table = load_results(project.root / "results/tables/results.parquet")
    assert len(table) == len(result.table) == 2
    samples = load_results(result.raw_logs[0], samples=True)
    assert len(samples) == raw.runs.iloc[0] and (samples.latency_ms > 0).all()


@pytest.mark.integration
def test_command_line_shares_the_apis_results(run):
    project, _, _ = run
    assert project.planned_jobs(*SAME_CONFIG_ON_THE_COMMAND_LINE) == {}


@pytest.mark.integration
def test_one_more_device_is_added_without_rebuilding_the_rest(run):
    project, _, _ = run
    profile = yaml.safe_load((project.root / "devices/local.yaml").read_text())
    project.write_yaml("devices/second.yaml", {**profile, "name": "second"})
    try:
        jobs = project.planned_jobs(*SAME_CONFIG_ON_THE_COMMAND_LINE, "devices=local,second")
    finally:
        (project.root / "devices/second.yaml").unlink()
    assert jobs == {
        "plan_manifest": 1,
        "run": 1,
        "report_device": 1,
        "tables": 1,
        "report": 1,
        "check_rows": 1,
        "all": 1,
    }


@pytest.mark.integration
def test_the_real_report_opens_in_chromium(run, tmp_path):
    need(shutil.which("chromium") is not None, "Debian's chromium is not installed")
    from chromium import Chromium
    from test_report import CHARTS_DRAWN

    project, result, _ = run
    with Chromium(tmp_path) as browser:
        page = browser.open(result.report.as_uri())
        assert page.wait_for(CHARTS_DRAWN) >= 2  # the block heatmap and a latency box plot
        assert page.console_errors() == []
        cells = page.evaluate(
            "Array.from(document.querySelectorAll('[data-chart=\"heatmap-layer-blocks\"] text'))"
            ".map(e => e.textContent)"
        )
        assert "unsupported" in cells
