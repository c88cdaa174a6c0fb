"""The cost of a run as the workflow measured it: Snakemake's benchmark TSVs (results/benchmarks/)
read, summed per rule, format and device, shown in the report and printed by
benchmarks/run_cost.py. Timings are written here, so only presence and sums are checked.

The check on a real workflow run is in tests/test_workflow.py
(test_every_measured_job_has_a_benchmark_and_the_report_sums_them), on its `converted` run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from edgebench import paths
from edgebench.metrics import cost
from edgebench.report.sections.cost import run_cost

REPO = Path(__file__).resolve().parents[1]
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time"


def write_tsv(root: Path, rule: str, *wildcards: str, lines=((1.0, 100.0, 0.9),)) -> Path:
    """A benchmark TSV as Snakemake writes it: one line per repeat of (s, max_rss, cpu_time);
    None writes Snakemake's NA (a job that ended before its first sample)."""
    path = root / paths.benchmark(rule, *wildcards)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [HEADER]
    for s, rss, cpu in lines:
        memory = "NA" if rss is None else f"{rss:.2f}"
        cpu_time = "NA" if cpu is None else f"{cpu:.2f}"
        rows.append(
            f"{s:.4f}\t0:00:01\t{memory}\t{memory}\t{memory}\t{memory}\t0.1\t0.2\t50.0\t{cpu_time}"
        )
    path.write_text("\n".join(rows) + "\n")
    return path


SETTINGS = {
    "rows": [
        ["local", "cnn", "tflite-fp32"],
        ["local", "cnn", "onnx-fp32"],
        ["local", "fc", "tflite-fp32"],
        ["local", "fc", "onnx-fp32"],
        ["board", "cnn", "tflite-fp32"],  # measured before, not planned now
    ],
    "elsewhere": [["board", "cnn", "tflite-fp32"]],
    "accuracy": {"cnn": "results/datasets/digits.npz"},
    "devices": {"local": {}, "board": {}},
}
RUNS = [("local", "cnn", "tflite-fp32"), ("local", "fc", "tflite-fp32")]  # no onnx runtime


@pytest.fixture
def project(tmp_path) -> Path:
    """TSVs for every job of SETTINGS but two: the board's run (measured before benchmarks
    were recorded) and the fc onnx conversion; the report's own from an earlier page."""
    write_tsv(tmp_path, "build_workload", "cnn", lines=[(10.0, 900.0, 9.5)])
    write_tsv(tmp_path, "build_workload", "fc", lines=[(4.0, 700.0, 3.5)])
    write_tsv(tmp_path, "convert", "cnn", "tflite-fp32", lines=[(3.0, 800.0, 2.5)])
    write_tsv(tmp_path, "convert", "cnn", "onnx-fp32", lines=[(2.0, 1200.0, 1.5)])
    write_tsv(tmp_path, "convert", "fc", "tflite-fp32", lines=[(1.0, 500.0, None)])
    write_tsv(tmp_path, "reference_outputs", "cnn", lines=[(0.5, None, None)])
    # two repeats: seconds add up, the peak is the larger
    write_tsv(
        tmp_path, "run", "local", "cnn", "tflite-fp32", lines=[(6.0, 300.0, 5), (7.0, 350, 6)]
    )
    write_tsv(tmp_path, "run", "local", "fc", "tflite-fp32", lines=[(5.0, 250.0, 4.0)])
    write_tsv(tmp_path, "report_device", "local", lines=[(0.25, 200.0, 0.2)])
    write_tsv(tmp_path, "report_device", "board", lines=[(0.25, 210.0, 0.2)])
    write_tsv(tmp_path, "report", lines=[(99.0, 999.0, 99.0)])
    return tmp_path


def test_benchmark_paths_are_owned_by_paths_and_read_back_into_their_job():
    assert paths.benchmark("run", "local", "cnn", "tflite-fp32") == (
        "results/benchmarks/run/local/cnn/tflite-fp32.tsv"
    )
    assert paths.benchmark("report") == "results/benchmarks/report.tsv"
    for rule, names in paths.BENCHMARKED.items():
        values = [f"{name}.x-1" for name in names]  # names may hold dots and dashes
        assert paths.benchmark_job(paths.benchmark(rule, *values)) == (
            rule,
            dict(zip(names, values, strict=True)),
        )
    with pytest.raises(ValueError, match="no benchmark"):
        paths.benchmark("run", "local")
    with pytest.raises(ValueError, match="no benchmark"):
        paths.benchmark("tables")
    assert paths.benchmark_job("results/benchmarks/run/local.tsv") is None
    assert paths.benchmark_job("results/logs/run/a/b/c.log") is None


def test_every_benchmarked_rule_names_its_path_through_paths():
    rules = "".join(
        (REPO / "workflow/rules" / name).read_text()
        for name in ("workloads.smk", "convert.smk", "run.smk", "report.smk")
    )
    for rule, names in paths.BENCHMARKED.items():
        wildcards = "".join(f', "{{{name}}}"' for name in names)
        assert f'paths.benchmark("{rule}"{wildcards})' in rules, rule


def test_a_tsv_is_read_with_its_repeats_summed_and_na_left_absent(project):
    run = cost.read_benchmark(project / paths.benchmark("run", "local", "cnn", "tflite-fp32"))
    assert run["repeats"] == 2
    assert run["s"] == pytest.approx(13.0) and run["cpu_time"] == pytest.approx(11.0)
    assert run["max_rss"] == pytest.approx(350.0)
    quick = cost.read_benchmark(project / paths.benchmark("reference_outputs", "cnn"))
    assert quick["s"] == pytest.approx(0.5)
    assert np.isnan(quick["max_rss"]) and np.isnan(quick["cpu_time"])  # NA, never 0
    assert cost.read_benchmark(project / "results/benchmarks/run/nowhere.tsv") is None
    broken = project / "broken.tsv"
    broken.write_text("")
    with pytest.raises(ValueError, match="not a benchmark TSV"):
        cost.read_benchmark(broken)


def test_the_jobs_of_a_report_are_its_rows_jobs_and_the_runs_measured_before():
    jobs = cost.workflow_jobs(RUNS, SETTINGS)
    names = [cost.job_name(entry) for entry in jobs]
    assert len(names) == len(set(names))
    by_rule = pd.Series([entry["rule"] for entry in jobs]).value_counts().to_dict()
    assert by_rule == {
        "build_workload": 2,
        "convert": 4,  # every workload x format of the rows, runtime or not
        "reference_outputs": 1,
        "run": 3,  # the planned runs and the one measured before
        "report_device": 2,
        "report": 1,
    }
    assert "run device=board, workload=cnn, format=tflite-fp32" in names
    assert "run device=local, workload=cnn, format=onnx-fp32" not in names


def test_an_interleaved_device_has_one_run_job_per_workload():
    runs = [*RUNS, ("local", "cnn", "onnx-fp32")]
    jobs = cost.workflow_jobs(runs, SETTINGS, {"local": ["tflite-fp32", "onnx-fp32"]})
    names = [cost.job_name(entry) for entry in jobs]
    assert "run_interleaved device=local, workload=cnn" in names
    assert "run_interleaved device=local, workload=fc" in names
    assert not any(name.startswith("run device=local") for name in names)
    assert "run device=board, workload=cnn, format=tflite-fp32" in names  # measured before
    assert paths.benchmark("run_interleaved", "local", "cnn") == (
        "results/benchmarks/run_interleaved/local/cnn.tsv"
    )


def test_costs_sum_per_rule_format_and_device_and_missing_tsvs_are_said(project):
    costs = cost.job_costs(cost.workflow_jobs(RUNS, SETTINGS), root=project, after_page=True)
    status = costs.set_index("job")["status"]
    assert status["convert workload=fc, format=onnx-fp32"] == cost.MISSING
    assert status["run device=board, workload=cnn, format=tflite-fp32"] == cost.MISSING
    assert status["report"] == cost.AFTER_PAGE  # its old TSV (99 s) is not this page's
    missing = costs[costs["status"].ne(cost.MEASURED)]
    assert missing[cost.FIGURES].isna().all().all()  # no figure is made up

    measured = costs[costs["status"].eq(cost.MEASURED)]
    for by in ("rule", "format", "device"):
        sums = cost.summarize(costs, by).set_index(by)
        having = costs.dropna(subset=[by])
        assert sums["jobs"].sum() == len(having)
        assert sums["measured"].sum() + sums["missing"].sum() == len(having)
        assert sums["s"].sum() == pytest.approx(measured.dropna(subset=[by])["s"].sum())
        assert list(sums["s"].dropna()) == sorted(sums["s"].dropna(), reverse=True)
    rules = cost.summarize(costs, "rule").set_index("rule")
    assert rules.loc["run", "s"] == pytest.approx(13.0 + 5.0)
    assert (
        rules.loc["run", "missing"] == 1 and rules.loc["run", "unmeasured"] == "1 " + cost.MISSING
    )
    assert rules.loc["convert", "max_rss"] == pytest.approx(1200.0)
    assert np.isnan(rules.loc["report", "s"])
    assert rules.loc["report", "unmeasured"] == f"1 {cost.AFTER_PAGE}"
    formats = cost.summarize(costs, "format").set_index("format")
    assert formats.loc["onnx-fp32", "s"] == pytest.approx(2.0)
    assert formats.loc["tflite-fp32", "s"] == pytest.approx(3.0 + 1.0 + 13.0 + 5.0)
    devices = cost.summarize(costs, "device").set_index("device")
    assert devices.loc["board", "measured"] == 1 and devices.loc["board", "missing"] == 1

    totals = cost.total(costs)
    assert totals["jobs"] == len(costs) and totals["missing"] == 3
    assert totals["s"] == pytest.approx(measured["s"].sum())
    top = cost.slowest(costs, 3)
    assert list(top["job"]) == [
        "run device=local, workload=cnn, format=tflite-fp32",
        "build_workload workload=cnn",
        "run device=local, workload=fc, format=tflite-fp32",
    ]


def test_the_report_shows_the_cost_and_names_what_has_no_figures(project, monkeypatch):
    monkeypatch.chdir(project)  # the report reads the TSVs from the project folder
    html = run_cost(SimpleNamespace(context={"jobs": cost.workflow_jobs(RUNS, SETTINGS)}))
    assert "<h3>Cost of this run</h3>" in html
    assert "10 of 13 jobs measured" in html
    for table in ("cost-rule-table", "cost-format-table", "cost-device-table"):
        assert f'id="{table}"' in html
    assert 'id="cost-slowest-table"' in html
    assert "2 jobs without figures" in html
    assert "convert workload=fc, format=onnx-fp32 (no benchmark file)" in html
    assert cost.AFTER_PAGE in html and "cannot include it" in html
    assert "child of the warm server" in html  # whose CPU seconds and memory they are
    assert "99" not in html.split('id="cost-slowest-table"')[1]  # the stale report TSV

    alone = run_cost(SimpleNamespace(context={}))
    assert "No job list" in alone and "<table" not in alone


def test_run_cost_script_prints_the_sums_and_the_load(project):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/run_cost.py"), "--project", str(project)],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    assert "11 jobs" in out  # every TSV found, the report's own included
    for part in ("per rule:", "per format:", "per device:", "slowest 10 jobs:", "load average"):
        assert part in out, part
    assert "run device=local, workload=cnn, format=tflite-fp32" in out


def test_run_cost_script_says_when_there_is_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/run_cost.py"), "--project", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "no benchmark TSV" in result.stderr
