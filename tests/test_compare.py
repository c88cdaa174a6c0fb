"""`edgebench compare`: the significance test against known distributions, then whole results
folders written from synthetic raw logs with the real table builder (tests/synthetic.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import synthetic
from edgebench.compare import (
    FASTER,
    MANN_WHITNEY,
    P_THRESHOLD,
    SAME,
    SAMPLE_INTERVALS,
    SLOWER,
    TABLE_INTERVALS,
    compare,
    is_different,
    latency_verdict,
    locate,
    main,
    mann_whitney_p,
    min_p_value,
)
from edgebench.metrics.tables import build_table, write_tables

EDGEBENCH = Path(sys.executable).parent / "edgebench"

# --- the statistics -------------------------------------------------------------------------------


def lognormal(rng, n: int, median: float = 1.0, sigma: float = 0.1) -> np.ndarray:
    """Latencies as they look: right-skewed around a median."""
    return median * rng.lognormal(0.0, sigma, n)


def ratio(old: np.ndarray, new: np.ndarray) -> float:
    return float(np.median(new) / np.median(old))


def test_a_planted_20_percent_slowdown_is_found_and_called_slower():
    for seed in range(50):
        rng = np.random.default_rng(seed)
        old, new = lognormal(rng, 60), lognormal(rng, 60, median=1.2)
        difference = is_different(old, new)
        assert difference.test == MANN_WHITNEY
        assert difference.different and difference.p_value < P_THRESHOLD, seed
        assert latency_verdict(ratio(old, new), difference) == SLOWER
        assert latency_verdict(ratio(new, old), is_different(new, old)) == FASTER


def test_scheduler_outliers_do_not_hide_a_slowdown():
    rng = np.random.default_rng(3)
    old, new = lognormal(rng, 100, sigma=0.03), lognormal(rng, 100, median=1.2, sigma=0.03)
    old[::10] *= 4  # one sample in ten preempted
    assert latency_verdict(ratio(old, new), is_different(old, new)) == SLOWER


def test_two_draws_of_one_distribution_are_rarely_called_different():
    """200 seeded pairs from one distribution: the U test's false-positive rate is its p
    threshold (0.002: 0.4 expected; 4 or more has probability below 0.001), and with the
    factor on top no pair gets a slower/faster verdict. At p < 0.05 about 10 of 200 are
    flagged, so the test is calibrated rather than blind."""
    flagged, verdicts, at_5_percent = 0, 0, 0
    for seed in range(200):
        rng = np.random.default_rng(1000 + seed)
        old, new = lognormal(rng, 60), lognormal(rng, 60)
        difference = is_different(old, new)
        flagged += difference.different
        verdicts += latency_verdict(ratio(old, new), difference) != SAME
        at_5_percent += difference.p_value < 0.05
    assert flagged <= 3
    assert verdicts == 0
    assert 3 <= at_5_percent <= 20


def test_small_samples_fall_back_to_99_percent_intervals():
    assert min_p_value(6, 6) > P_THRESHOLD > min_p_value(7, 7)
    rng = np.random.default_rng(0)
    assert is_different(lognormal(rng, 6), lognormal(rng, 6)).test == SAMPLE_INTERVALS
    assert is_different(lognormal(rng, 7), lognormal(rng, 7)).test == MANN_WHITNEY
    flagged = 0
    for seed in range(200):  # 5 samples: the 99% interval is the range; disjoint w.p. 2/252
        rng = np.random.default_rng(seed)
        flagged += is_different(lognormal(rng, 5), lognormal(rng, 5)).different
    assert flagged <= 6  # 1.6 expected
    for seed in range(20):
        rng = np.random.default_rng(seed)
        old, new = lognormal(rng, 5, sigma=0.02), lognormal(rng, 5, median=1.2, sigma=0.02)
        difference = is_different(old, new)
        assert difference.different and latency_verdict(ratio(old, new), difference) == SLOWER


def test_ties_and_table_intervals():
    same = np.full(30, 2.0)
    assert mann_whitney_p(same, same) == 1.0
    assert not is_different(same, same).different
    apart = is_different(None, None, (1.0, 1.1), (1.2, 1.3))
    assert apart.different and apart.test == TABLE_INTERVALS
    assert not is_different(None, None, (1.0, 1.25), (1.2, 1.3)).different
    assert not is_different(None, None, None, (1.2, 1.3)).different
    # significant but within the factor: no verdict
    assert latency_verdict(1.05, apart) == SAME
    assert latency_verdict(1.05, apart, factor=1.02) == SLOWER


# --- results folders ------------------------------------------------------------------------------

DEVICE = "board"
FORMATS = ["tflite-fp32", "tflite-int8"]
PROFILES = {
    DEVICE: {"name": DEVICE, "transport": "local", "formats": FORMATS, "power": {"source": "none"}}
}
# workload: group, family, batch sizes, median ms, top-1 (None: no dataset)
WORKLOADS = {
    "digits-cnn": ("models", "cnn", [1, 2], 4.0, 0.90),
    "layer-fc-128-32": ("layer-blocks", "fc", [1], 0.2, None),
}
SLOWDOWN = 1.25


def results_folder(
    root: Path,
    seed: int,
    *,
    speed: dict[tuple[str, str], float] | None = None,
    misses: dict[tuple[str, str], int] | None = None,
    failed: tuple[str, str] | None = None,
    header_fields: dict | None = None,
) -> Path:
    """A project folder whose results/ holds raw logs and the table built from them.

    `speed` multiplies a (workload, format)'s latencies; `misses` gets that many more of the 100
    accuracy labels wrong; `failed` is a run that crashed; `header_fields` replace raw-log
    header fields (facts, runtime, model) of every run."""
    speed, misses = speed or {}, misses or {}
    rng = np.random.default_rng(seed)
    label_rng = np.random.default_rng(0)  # the same dataset on both sides
    runs, conversions, metas, plan, references, datasets = [], [], [], [], {}, {}
    for workload, (group, family, batches, median, top1) in WORKLOADS.items():
        metas.append(synthetic.write_meta(root, workload, group, family, 2_000_000))
        labels = None
        if top1 is not None:
            datasets[workload], references[workload] = synthetic.write_dataset(
                root, workload, top1, label_rng
            )
            labels = np.load(datasets[workload])["y_test"]
        for fmt in FORMATS:
            conversions.append(synthetic.write_conversion(root, workload, fmt))
            plan.append((DEVICE, workload, fmt))
            if (workload, fmt) == failed:
                runs.append(
                    synthetic.write_run(
                        root, DEVICE, workload, fmt, {}, end=("failed", "agent crashed")
                    )
                )
                continue
            factor = speed.get((workload, fmt), 1.0)
            latencies = {
                batch: synthetic.latencies(median * factor * batch**0.7, rng) for batch in batches
            }
            outputs = None
            if labels is not None:
                hits = round(top1 * len(labels)) - misses.get((workload, fmt), 0)
                outputs = synthetic.outputs_with_hits(labels, hits)
            runs.append(
                synthetic.write_run(
                    root, DEVICE, workload, fmt, latencies, outputs=outputs, **(header_fields or {})
                )
            )
    table = build_table(runs, conversions, metas, PROFILES, plan, references, datasets)
    write_tables(table, root / "results" / "tables")
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("compare")
    return {
        "old": results_folder(base / "old", seed=1),
        "same": results_folder(base / "same", seed=2),
        "slowed": results_folder(
            base / "slowed", seed=2, speed={("digits-cnn", "tflite-fp32"): SLOWDOWN}
        ),
        "mixed": results_folder(
            base / "mixed",
            seed=3,
            speed={("layer-fc-128-32", "tflite-int8"): 0.75},
            misses={("digits-cnn", "tflite-int8"): 3, ("digits-cnn", "tflite-fp32"): 1},
            failed=("layer-fc-128-32", "tflite-fp32"),
            header_fields={
                "runtime": {"name": "ai_edge_litert", "version": "2.4.0"},
                "facts": {"hostname": "board-host", "cpu_model": "Test CPU", "kernel": "6.6"},
            },
        ),
    }


def rows(frame: pd.DataFrame, workload: str, fmt: str) -> pd.DataFrame:
    return frame[frame["workload"].eq(workload) & frame["format"].eq(fmt)]


def test_a_folder_against_itself_has_no_change_and_exits_0(folders, capsys):
    frame = compare(folders["old"], folders["old"])
    assert len(frame) == 6  # digits-cnn x 2 formats x 2 batches + the block x 2 formats
    assert frame["verdict"].eq(SAME).all()
    assert frame["test"].eq(MANN_WHITNEY).all()
    assert frame["ratio"].eq(1.0).all() and frame["p_value"].eq(1.0).all()
    assert frame["notes"].eq("").all() and not frame["regressed"].any()
    assert main(["compare", str(folders["old"]), str(folders["old"])]) == 0
    assert "nothing regressed" in capsys.readouterr().out


def test_another_run_of_the_same_distribution_has_no_change(folders):
    frame = compare(folders["old"], folders["same"])
    assert frame["verdict"].eq(SAME).all(), frame[["workload", "format", "ratio", "p_value"]]
    assert frame["accuracy"].dropna().eq("same").all()
    assert not frame["regressed"].any()


def test_a_planted_slowdown_is_reported_slower_and_exits_1(folders, tmp_path, capsys):
    frame = compare(folders["old"], folders["slowed"])
    slowed = rows(frame, "digits-cnn", "tflite-fp32")
    assert slowed["verdict"].eq(SLOWER).all() and len(slowed) == 2
    assert slowed["ratio"].between(SLOWDOWN * 0.95, SLOWDOWN * 1.05).all()
    assert (slowed["p_value"] < P_THRESHOLD).all() and slowed["regressed"].all()
    others = frame.drop(slowed.index)
    assert others["verdict"].eq(SAME).all() and not others["regressed"].any()

    out = tmp_path / "comparison"
    assert main(["compare", str(folders["old"]), str(folders["slowed"]), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "2 slower" in printed and "2 regressed" in printed
    written = pd.read_csv(out / "comparison.csv")
    assert len(written) == len(frame)
    assert written.loc[written["verdict"].eq(SLOWER), "workload"].eq("digits-cnn").all()
    page = (out / "comparison.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('<tr class="regressed">') == 2
    assert "<script" not in page and "http" not in page  # self-contained


def test_a_faster_run_accuracy_failures_and_changed_facts(folders):
    frame = compare(folders["old"], folders["mixed"])
    faster = rows(frame, "layer-fc-128-32", "tflite-int8").iloc[0]
    assert faster["verdict"] == FASTER and not faster["regressed"]
    crashed = rows(frame, "layer-fc-128-32", "tflite-fp32").iloc[0]
    assert crashed["verdict"] == "now failed" and crashed["regressed"]
    assert "agent crashed" in crashed["notes"]
    int8 = rows(frame, "digits-cnn", "tflite-int8")
    assert int8["accuracy"].eq("dropped").all() and int8["regressed"].all()
    assert np.allclose(int8["accuracy_change"], -0.03)
    fp32 = rows(frame, "digits-cnn", "tflite-fp32")  # 0.01 lower: at the tolerance, allowed
    assert fp32["accuracy"].eq("same").all() and not fp32["regressed"].any()
    assert (
        compare(folders["old"], folders["mixed"], accuracy_tolerance=0.005)
        .loc[fp32.index, "accuracy"]
        .eq("dropped")
        .all()
    )
    notes = frame.loc[frame["new_status"].eq("ok"), "notes"]
    assert notes.str.contains(
        "runtime differs (ai_edge_litert 2.3.0 -> ai_edge_litert 2.4.0)", regex=False
    ).all()
    assert notes.str.contains("kernel").sum() == 0  # the old runs did not record it
    assert not notes.str.contains("hostname").any()  # the same host
    assert main(["compare", str(folders["old"]), str(folders["mixed"])]) == 1


def test_a_different_model_file_is_noted(folders, tmp_path):
    other = results_folder(
        tmp_path / "other",
        seed=2,
        header_fields={"model": {"file": "model", "sha256": "ab" * 32, "size_bytes": 1}},
    )
    frame = compare(folders["old"], other)
    assert frame["notes"].str.contains("model file differs (sha256", regex=False).all()
    assert frame["verdict"].eq(SAME).all()


def test_table_files_alone_are_compared_by_their_intervals(folders, tmp_path):
    old = tmp_path / "old.csv"
    new = tmp_path / "new.parquet"
    shutil.copy(folders["old"] / "results/tables/results.csv", old)
    shutil.copy(folders["slowed"] / "results/tables/results.parquet", new)
    frame = compare(old, new)
    assert frame["test"].eq(TABLE_INTERVALS).all()
    assert frame["notes"].str.contains("the table's 95% intervals decided").all()
    slowed = rows(frame, "digits-cnn", "tflite-fp32")
    assert slowed["verdict"].eq(SLOWER).all()
    assert frame.drop(slowed.index)["verdict"].eq(SAME).all()
    assert frame["p_value"].isna().all()
    # a table alone against a folder: the facts the table keeps, read as the header has them
    mixed = tmp_path / "mixed.csv"
    shutil.copy(folders["mixed"] / "results/tables/results.csv", mixed)
    notes = compare(folders["same"], mixed)["notes"]
    assert notes.str.contains("runtime differs").sum() == 5  # every row but the crashed run
    assert not notes.str.contains("threads|hostname|cpu_model").any()


def test_power_when_both_tables_have_it(folders, tmp_path):
    tables = []
    for name, watts in (("old", 4.0), ("new", 4.2)):
        table = pd.read_parquet(folders["old"] / "results/tables/results.parquet")
        table["power_w"] = watts
        if name == "new":
            table.loc[table["format"].eq("tflite-int8"), "power_w"] = 4.8
        tables.append(tmp_path / f"{name}.parquet")
        table.to_parquet(tables[-1])
    frame = compare(*tables)
    int8 = frame["format"].eq("tflite-int8")
    assert frame.loc[int8, "power"].eq("higher").all() and frame.loc[int8, "regressed"].all()
    assert np.allclose(frame.loc[int8, "power_ratio"], 1.2)
    assert frame.loc[~int8, "power"].eq("same").all() and not frame.loc[~int8, "regressed"].any()
    assert compare(folders["old"], folders["old"])["power"].isna().all()  # no power: no verdict


def test_what_a_folder_argument_may_be(folders, tmp_path):
    project = folders["old"]
    results = project / "results"
    table = results / "tables" / "results.parquet"
    for given in (project, results, results / "tables", table):
        assert locate(given) == (table, results / "raw")
    assert locate(results / "tables" / "results.csv") == (
        results / "tables/results.csv",
        results / "raw",
    )
    # a table in place finds its raw logs: the U test decides
    assert compare(table, folders["same"])["test"].eq(MANN_WHITNEY).all()
    with pytest.raises(FileNotFoundError, match="no results/tables"):
        locate(tmp_path)


def test_rows_on_one_side_only_and_unreadable_inputs(folders, tmp_path, capsys):
    table = pd.read_parquet(folders["old"] / "results/tables/results.parquet")
    fewer = tmp_path / "fewer.parquet"
    table[table["batch"].eq(1)].to_parquet(fewer)
    frame = compare(folders["old"] / "results/tables/results.parquet", fewer)
    assert frame.loc[frame["batch"].eq(2), "verdict"].eq("only in old").all()
    assert not frame["regressed"].any()
    assert (
        compare(fewer, folders["old"])
        .loc[lambda f: f["batch"].eq(2), "verdict"]
        .eq("only in new")
        .all()
    )
    assert main(["compare", str(tmp_path / "missing"), str(folders["old"])]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_the_console_script(folders, tmp_path):
    assert EDGEBENCH.exists(), "run `.venv/bin/python -m pip install --no-deps -e .` (make setup)"
    same = subprocess.run(
        [EDGEBENCH, "compare", folders["old"], folders["same"]], capture_output=True, text=True
    )
    assert same.returncode == 0, same.stderr
    slowed = subprocess.run(
        [EDGEBENCH, "compare", "--only-changed", folders["old"], folders["slowed"]],
        capture_output=True,
        text=True,
    )
    assert slowed.returncode == 1, slowed.stderr
    lines = [line for line in slowed.stdout.splitlines() if line.startswith("!")]
    assert len(lines) == 2 and all("slower" in line for line in lines)
    assert "layer-fc-128-32" not in slowed.stdout  # unchanged rows are not printed
