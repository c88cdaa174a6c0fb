"""The HTML report from small synthetic results; opened in a real headless Chromium."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.offline
import pytest
import synthetic
from chromium import BrowserError
from conftest import need
from edgebench.metrics.tables import COLUMNS, KEYS, build_table, write_tables
from edgebench.report import (
    Report,
    batch_size_vs_throughput_grid,
    device_digest,
    load_report,
    load_results,
    max_batch_size,
    throughput_vs_accuracy,
    throughput_vs_device,
)
from edgebench.report.page import duration, interval
from edgebench.report.summary import vips_scores
from test_tables import write_run

CHARTS_DRAWN = """(() => {
  const divs = Array.from(document.querySelectorAll('.plotly-graph-div'));
  return divs.length > 0 && divs.every(d => d._fullLayout && d.querySelector('svg.main-svg'))
    ? divs.length : 0;
})()"""


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("report")
    plain = synthetic.build(folder / "plain")
    powered = synthetic.build(folder / "powered", power=True)
    return {
        "folder": folder,
        "data": plain,
        "index": Report(**plain).write(folder / "index.html"),
        "power": Report(**powered).write(folder / "power.html"),
    }


# A report from raw logs through the real table builder (edgebench.metrics.tables) and the real
# device digests: three devices, two models swept over four batch sizes, two blocks. Three runs
# are unstable: one at three of its batch sizes, one at batch 4 only, and one block whose CV is
# made by a single stall (the rest of its samples agree within 3%).
RAW_DEVICES = {"local": 1.0, "edge-b": 3.5, "edge-c": 2.0}
RAW_FORMATS = {"local": ["tflite-fp32", "tflite-int8", "onnx-fp32"]}
RAW_WORKLOADS = {
    "digits-cnn": ("models", "cnn", 5.0),
    "mobilenetv2": ("models", "mobilenet", 9.0),
    "layer-fc-256-64": ("layer-blocks", "fc", 0.2),
    "cell-resnet-identity-f64": ("cell-blocks", "resnet", 0.4),
}
UNSTABLE_BATCHES = {
    ("local", "mobilenetv2", "tflite-fp32"): {1, 2, 4},
    ("edge-b", "digits-cnn", "tflite-int8"): {4},
}
STALLED = ("local", "layer-fc-256-64", "tflite-fp32")
STALL_MS = 1500.0


def raw_latencies(median_ms: float, rng, unstable: bool, stall: bool) -> list[float]:
    spread = 0.4 if unstable else 0.03
    values = median_ms * (1 + np.abs(rng.normal(0, spread, 40)))
    if stall:
        values[17] = STALL_MS
    return values.tolist()


def write_raw_run(root, device: str, workload: str, fmt: str, rng) -> Path:
    group, _, median = RAW_WORKLOADS[workload]
    batches = {}
    for batch in [1, 2, 4, 8] if group == "models" else [1]:
        unstable = batch in UNSTABLE_BATCHES.get((device, workload, fmt), ())
        batches[batch] = raw_latencies(
            median * RAW_DEVICES[device] * batch**0.7,
            rng,
            unstable,
            stall=(device, workload, fmt) == STALLED,
        )
    return synthetic.write_run(root, device, workload, fmt, batches)


def image_records() -> list[dict]:
    """Image records as edgebench.images.build writes them, with this environment's real tool
    versions and installed packages; one lists its packages as "name==version" strings, one
    failed to build."""
    from importlib import metadata

    from edgebench.images.build import build_args
    from edgebench.images.versions import read_versions

    installed = {dist.metadata["Name"]: dist.version for dist in metadata.distributions()}
    common = {
        "engine": "docker",
        "base_image": "edgebench/base:bookworm",
        "build_args": build_args("edgebench/base:bookworm"),
        "context_sha256": "c" * 64,
        "extra_ca": False,
        "gpu": False,
    }
    return [
        {
            **common,
            "image": "tensorflow",
            "tag": "edgebench/tensorflow:latest",
            "status": "ok",
            "reason": "",
            "id": "sha256:" + "a" * 64,
            "base_image_id": "sha256:" + "b" * 64,
            "versions": read_versions("tensorflow"),
            "packages": {"python": installed, "debian": {"libc6": "2.36-9+deb12u13"}},
            "duration_s": 312.4,
        },
        {
            **common,
            "image": "openvino",
            "tag": "edgebench/openvino:latest",
            "status": "ok",
            "id": "sha256:" + "d" * 64,
            "versions": {"python": "3.11.9", "openvino": "2025.3.0"},
            "packages": ["numpy==2.1.0", "openvino==2025.3.0"],
        },
        {
            **common,
            "image": "edgetpu",
            "status": "failed",
            "reason": "docker build exited with code 1: E: Unable to locate package",
            "gpu": True,
        },
    ]


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> dict:
    """A Report built from raw logs by the real table builder, and its page."""
    root = tmp_path_factory.mktemp("measured")
    rng = np.random.default_rng(11)
    formats = ["tflite-fp32", "tflite-int8"]
    profiles = {
        device: {
            "name": device,
            "description": f"test board {device}",
            "transport": "local" if device == "local" else "ssh",
            "formats": RAW_FORMATS.get(device, formats),
            "power": {"source": "none"},
        }
        for device in RAW_DEVICES
    }
    runs, metas, conversions, plan = {}, [], [], []
    for workload, (group, family, _) in RAW_WORKLOADS.items():
        metas.append(synthetic.write_meta(root, workload, group, family, 10**6))
        for fmt in RAW_FORMATS["local"]:
            conversions.append(synthetic.write_conversion(root, workload, fmt))
    for device, profile in profiles.items():
        runs[device] = []
        for workload in RAW_WORKLOADS:
            for fmt in profile["formats"]:
                runs[device].append(write_raw_run(root, device, workload, fmt, rng))
                plan.append((device, workload, fmt))
    table = build_table(
        runs=[path for paths in runs.values() for path in paths],
        conversions=conversions,
        metas=metas,
        devices=profiles,
        plan_rows=plan,
        references={},
        datasets={},
    )
    digests = [device_digest(device, profiles[device], runs[device]) for device in profiles]
    report = Report(
        table=table,
        digests=digests,
        conversions=[json.loads(p.read_text()) for p in conversions],
        images=image_records(),
        context={"suite_name": "measured", "devices": profiles},
    )
    return {"report": report, "table": table, "index": report.write(root / "index.html")}


@pytest.fixture(scope="module")
def html(reports) -> str:
    return reports["index"].read_text()


# --- the page as written ------------------------------------------------------------------------


def test_page_is_self_contained_with_plotly_once(html):
    plotly_js = plotly.offline.get_plotlyjs()
    assert html.count(plotly_js[:400]) == 1
    ours = html.replace(plotly_js, "")  # plotly.js quotes URLs it never loads by itself
    assert "<script src=" not in ours and "<link " not in ours
    assert "http://" not in ours and "https://" not in ours and "@import" not in ours


def test_every_section_is_linked_from_the_menu(html):
    for section in [
        "overview",
        "models",
        "accuracy",
        "batch",
        "devices",
        "blocks",
        "latency",
        "power",
        "provenance",
    ]:
        assert f'href="#{section}"' in html and f'id="{section}"' in html


def test_labels_with_html_are_escaped(html):
    assert "&lt;b&gt;Bold board&lt;/b&gt;" in html
    assert "<b>Bold board" not in html and "<script>window.__injected" not in html
    for raw in ("<i>mobile", "\\u003ci\\u003emobile"):  # as markup, or in a chart's JSON
        assert raw not in html


def test_power_section_says_plainly_that_no_device_measures_power(html):
    assert "No device in this report measures power" in html
    assert 'data-chart="power-' not in html
    assert "no power source configured for device edge-b" in html


def test_power_figures_are_drawn_where_power_exists(reports):
    powered = reports["power"].read_text()
    for name in ("power-power_w", "power-efficiency_ips_per_w", "power-trace-0"):
        assert f'data-chart="{name}"' in powered
    assert 'data-chart="efficiency-ranking"' in powered
    assert "shaded: timed windows" in powered and "b1\\u00b7p2" in powered  # per process
    table = reports["data"]["table"]
    assert table["power_w"].isna().all()


def test_power_columns_come_from_the_power_logs(tmp_path):
    table = synthetic.build(tmp_path, power=True)["table"]
    models = table[table["group"].eq("models") & table["status"].eq("ok")]
    for device, watts in synthetic.WATTS.items():
        rows = models[models.device == device]
        assert rows["power_w"].to_numpy() == pytest.approx(watts, rel=1e-3)
        assert rows["idle_power_w"].to_numpy() == pytest.approx(watts / 2, rel=1e-3)
        assert rows["active_power_w"].to_numpy() == pytest.approx(watts / 2, rel=2e-3)
    inferences = models["runs"] * models["batch"]
    energy = models["power_energy_j"] / inferences * 1000
    assert models["energy_per_inference_mj"].to_numpy() == pytest.approx(energy.to_numpy())
    efficiency = models["throughput_ips"] / models["power_w"]
    assert models["efficiency_ips_per_w"].to_numpy() == pytest.approx(efficiency.to_numpy())
    assert (models["power_samples"] >= 10).all() and models["power_note"].isna().all()
    blocks = table[table["group"].ne("models") & table["status"].eq("ok")]
    assert blocks["power_w"].isna().all()
    assert blocks["power_note"].str.contains("no power log came back").all()


def test_vips_score_sums_each_models_best_format_at_batch_one(reports):
    table = reports["data"]["table"]
    scores = vips_scores(table).set_index("device")
    batch_one = table[(table.batch == 1) & table.vips.notna()]
    expected = batch_one.groupby(["device", "workload"]).vips.max().groupby("device").sum()
    assert scores.vips_score.to_dict() == pytest.approx(expected.to_dict())
    assert list(scores.index) == ["local", "edge-b"]  # ranked, best first


# --- plot helpers (dlmark) ----------------------------------------------------------------------


def test_dlmark_helpers_return_figures(reports):
    table = reports["data"]["table"]
    grid = batch_size_vs_throughput_grid(table)
    assert isinstance(grid, go.Figure)
    assert grid.layout.xaxis.type == "log" and len(grid.layout.annotations) == 2  # two models
    largest = max_batch_size(table)
    assert {max(trace.y) for trace in largest.data} == {4}
    devices = throughput_vs_device(table, "digits-cnn")
    assert {trace.name for trace in devices.data} == {"tflite-fp32", "tflite-int8", "onnx-fp32"}
    accuracy = throughput_vs_accuracy(table)
    assert {trace.name for trace in accuracy.data} == {"cnn", "&lt;i&gt;mobile&lt;/i&gt;"}
    assert sum(len(trace.x) for trace in accuracy.data) == 2 * (3 + 2)  # model x format x device
    with pytest.raises(ValueError, match="name the model"):
        throughput_vs_device(table)


# --- data: load_results, device digests -----------------------------------------------------------


def test_load_results_reads_raw_logs_and_tables(tmp_path, reports):
    run = write_run(tmp_path, "tflite-fp32", {1: [1, 2, 3, 4, 5], 2: [4, 5, 6]}, failed_batch=4)
    rows = load_results(tmp_path / "results" / "raw" / "**" / "run.jsonl")
    assert rows.batch.tolist() == [1, 2, 4] and rows.status.tolist() == ["ok", "ok", "failed"]
    assert rows.latency_ms_median.tolist()[:2] == [3.0, 5.0]
    assert rows.throughput_ips.iloc[1] == pytest.approx(400) and (rows.max_batch == 2).all()
    assert (rows.source == str(run)).all()
    samples = load_results(str(run), samples=True)
    assert len(samples) == 8 and samples.latency_ms.max() == 6.0
    table = reports["data"]["table"]
    table.to_csv(tmp_path / "a.csv", index=False)
    table.to_parquet(tmp_path / "b.parquet", index=False)
    both = load_results(tmp_path / "*.*")
    assert len(both) == 2 * len(table) and set(both.source.map(lambda s: s[-3:])) == {"csv", "uet"}
    with pytest.raises(FileNotFoundError):
        load_results(tmp_path / "nothing-*.jsonl")


def test_device_digest_keeps_exact_box_statistics(tmp_path):
    run = write_run(tmp_path, "tflite-fp32", {1: list(range(1, 101))})
    digest = device_digest("local", {"name": "local"}, [run])
    (batch,) = digest["runs"][0]["batches"]
    assert batch["n"] == 100 and batch["median"] == 50.5
    assert batch["q1"] == np.percentile(np.arange(1, 101), 25)
    assert batch["lowerfence"] == 1 and batch["upperfence"] == 100
    assert digest["facts"]["hostname"] == "bench-host"
    assert digest["runs"][0]["runtime"]["version"] == "2.3.0"


def test_device_digest_keeps_each_process_median_and_flags_a_drifting_run(tmp_path):
    steady = [10.0] * 30
    drifting = [10.0] * 20 + [11.0] * 10  # the third process runs 10% slower
    paths = [
        synthetic.write_run(tmp_path, "local", name, "tflite-fp32", {1: values}, processes=3)
        for name, values in (("steady", steady), ("drifting", drifting))
    ]
    runs = {r["workload"]: r["batches"][0] for r in device_digest("local", {}, paths)["runs"]}
    assert runs["steady"]["process_medians"] == pytest.approx([10.0, 10.0, 10.0])
    assert runs["steady"]["process_spread"] == pytest.approx(1.0)
    assert not runs["steady"]["unstable"] and not runs["steady"]["spread_too_wide"]
    assert runs["drifting"]["process_medians"] == pytest.approx([10.0, 10.0, 11.0])
    assert runs["drifting"]["process_spread"] == pytest.approx(1.1)
    assert runs["drifting"]["spread_too_wide"] and runs["drifting"]["unstable"]
    low, high = runs["steady"]["ci_low"], runs["steady"]["ci_high"]
    assert low == high == 10.0


def test_latency_section_shows_per_process_medians_and_the_interval(reports, html):
    table = reports["data"]["table"]
    assert 'id="repeatability-table"' in html and "median of each process" in html
    local = reports["data"]["digests"][0]
    run = next(r for r in local["runs"] if r["workload"] == "digits-cnn")
    first = run["batches"][0]
    assert len(first["process_medians"]) == 3
    shown = ", ".join(duration(m) for m in first["process_medians"])
    assert shown in html
    assert interval(first["ci_low"], first["ci_high"], first["median"]) in html
    # the table and the report agree on the spread the table flags
    row = table.set_index(["device", "workload", "format", "batch"]).loc[
        ("local", "digits-cnn", run["format"], first["batch"])
    ]
    assert row["latency_process_spread"] == pytest.approx(first["process_spread"])


def test_a_baseline_adds_the_comparison_section_and_none_is_left_out(reports, tmp_path, html):
    folder = reports["folder"]
    tables = {}
    for side in ("plain", "powered"):
        data = synthetic.build(tmp_path / side, power=side == "powered")
        write_tables(data["table"], tmp_path / side / "results" / "tables")
        tables[side] = tmp_path / side / "results" / "tables" / "results.parquet"
    assert 'id="baseline"' not in html  # no baseline, no section
    context = dict(reports["data"]["context"], baseline=str(tmp_path / "powered"))
    report = load_report(tables["plain"], context=context)
    assert report.comparison is not None and not report.comparison.regressed
    page = report.write(folder / "baseline.html").read_text()
    section = page[page.index('<section class="card" id="baseline">') :]
    section = section[: section.index("</section>")]
    assert 'href="#baseline"' in page and 'id="baseline-table"' in section
    body = section.split("<tbody>")[1]
    same = report.comparison.frame["verdict"].eq("no significant change").sum()
    assert body.count("no significant change") == same > 0
    assert "regressed" not in body and "nothing regressed" in section
    assert str(tmp_path / "powered") in section  # the baseline's own files are named

    gone = dict(context, baseline=str(tmp_path / "nowhere"))
    missing = load_report(tables["plain"], context=gone).html()
    assert "could not be read" in missing and "nowhere" in missing


def test_report_of_a_table_without_blocks_models_or_samples(reports):
    table = reports["data"]["table"].iloc[0:0]
    page = Report(table=table).html()
    assert "No whole model in this report" in page and "No NeurIO block" in page


# --- in a real browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    need(shutil.which("chromium") is not None, "Debian's chromium is not installed")
    from chromium import Chromium

    with Chromium(tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def page(browser, reports):
    opened = browser.open(reports["index"].as_uri())
    opened.wait_for(CHARTS_DRAWN)
    return opened


def not_blank(png: bytes) -> bool:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    pixels = np.asarray(image, dtype=np.float64)
    return len(colours) > 20 and pixels.std() > 10


def chart_boxes(page) -> list[dict]:
    return page.evaluate(
        """Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => {
             const r = d.getBoundingClientRect();
             return {name: d.closest("[data-chart]").dataset.chart,
                     x: r.left + window.scrollX, y: r.top + window.scrollY,
                     width: r.width, height: r.height,
                     traces: d.querySelectorAll('.trace, .hm, .heatmaplayer image').length};
           })"""
    )


def test_report_opens_from_file_without_errors_or_network(page):
    assert page.console_errors() == []
    urls = page.requested_urls()
    assert urls and all(url.startswith(("file:", "data:")) for url in urls), urls


def test_every_chart_is_drawn(page):
    boxes = chart_boxes(page)
    assert len(boxes) >= 12
    for box in boxes:
        assert box["width"] > 300 and box["height"] > 150, box
        assert box["traces"] > 0, box
        clip = {k: box[k] for k in ("x", "y", "width", "height")}
        assert not_blank(page.screenshot(clip)), f"chart {box['name']} is blank"


# Every element of the page must fit inside its container at common screen widths: nothing may
# stick out of its parent, and nothing may clip what it draws (a chart drawn wider than its
# box). Only the inside of a chart's drawing and of a scrolling table or code box is exempt.
WIDTHS = [390, 800, 1280, 1400, 1920]
OVERFLOWS = """(() => {
  const problems = [];
  const where = el => {
    const chart = el.closest("[data-chart]");
    const place = chart ? `chart ${chart.dataset.chart}` : `section ${el.closest("section")?.id}`;
    const name = el.tagName.toLowerCase() + Array.from(el.classList).map(c => "." + c).join("");
    return `${name} in ${place}`;
  };
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth + 1) {
    problems.push(`the page is ${page.scrollWidth} px wide in a ${window.innerWidth} px window`);
  }
  for (const el of document.querySelectorAll("main *")) {
    const parent = el.parentElement;
    if (parent.closest("svg, .table-wrap, pre")) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect(), outer = parent.getBoundingClientRect();
    if (style.display === "none" || box.width === 0 || box.height === 0) continue;
    if (box.left < outer.left - 1 || box.right > outer.right + 1) {
      problems.push(`${where(el)}: spans ${Math.round(box.left)}-${Math.round(box.right)} px, ` +
                    `its container ${Math.round(outer.left)}-${Math.round(outer.right)} px`);
    }
    const scrolls = ["auto", "scroll"].includes(style.overflowX);
    if (!scrolls && el.clientWidth && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${where(el)}: ${el.scrollWidth} px of content in ${el.clientWidth} px`);
    }
  }
  return problems;
})()"""
# Charts redraw themselves (asynchronously) when their box changes size; wait until each one's
# drawing is as wide as its box, or give up and let the assertion name what does not fit.
CHARTS_FIT = """Array.from(document.querySelectorAll(".plotly-graph-div")).every(d =>
  Math.abs(d._fullLayout.width - d.getBoundingClientRect().width) <= 1)"""


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_is_wider_than_its_container(browser, measured, width):
    page = browser.open(measured["index"].as_uri(), width=width)
    page.wait_for(CHARTS_DRAWN)
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    try:
        page.wait_for(CHARTS_FIT, timeout=10)
    except BrowserError:
        pass
    problems = page.evaluate(OVERFLOWS)
    assert not problems, f"at {width} px:\n" + "\n".join(problems)
    assert page.console_errors() == []


CENTRE_OF = """(selector => {
  const element = document.querySelector(selector);
  element.scrollIntoView({block: "center", behavior: "instant"});
  const r = element.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  return {x: x, y: y, hit: element.contains(document.elementFromPoint(x, y))};
})"""
COLUMN = """((table, header) => {
  const rows = document.getElementById(table);
  const i = Array.from(rows.tHead.rows[0].cells).findIndex(c => c.textContent === header);
  const value = cell => cell.dataset.value ?? cell.textContent;
  return Array.from(rows.tBodies[0].rows).map(r => value(r.cells[i]));
})"""


def click(page, selector: str) -> None:
    """A real mouse click at the centre of the element."""
    box = page.evaluate(f"{CENTRE_OF}({json.dumps(selector)})")
    assert box["hit"], f"{selector} is covered by another element"
    for kind in ("mousePressed", "mouseReleased"):
        page.browser.call(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            session=page.session,
        )


def column(page, table: str, header: str) -> list[str]:
    return page.evaluate(f"{COLUMN}({json.dumps(table)}, {json.dumps(header)})")


def test_tables_sort_by_a_click_on_the_header(page):
    heads = page.evaluate(
        "Array.from(document.querySelectorAll('#models-table thead th')).map(h => h.textContent)"
    )
    header = f"#models-table thead th:nth-child({heads.index('median') + 1})"
    click(page, header)
    values = column(page, "models-table", "median")
    numbers = [float(v) for v in values if v != ""]
    assert numbers == sorted(numbers) and values[-1] == ""  # ascending, empty cells last
    assert page.evaluate(f"document.querySelector({header!r}).getAttribute('aria-sort')") == (
        "ascending"
    )
    click(page, header)
    numbers = [float(v) for v in column(page, "models-table", "median") if v != ""]
    assert numbers == sorted(numbers, reverse=True)
    click(page, "#models-table thead th:nth-child(2)")  # text column: workload
    workloads = column(page, "models-table", "workload")
    assert workloads == sorted(workloads)


def test_filter_box_keeps_matching_rows(page):
    page.evaluate(
        """(() => { const box = document.querySelector('input[data-filter="models-table"]');
             box.value = 'edge-b'; box.dispatchEvent(new Event('input')); })()"""
    )
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('#models-table tbody tr'))"
        ".filter(r => !r.hidden).map(r => r.cells[0].textContent)"
    )
    assert shown and set(shown) == {"edge-b"}


def test_html_in_labels_is_shown_as_text(page):
    text = page.evaluate("document.body.innerText")
    assert synthetic.HTML_DESCRIPTION in text
    assert page.evaluate("typeof window.__injected") == "undefined"
    assert page.evaluate("document.querySelectorAll('main b').length") == 0
    legend = page.evaluate(
        'Array.from(document.querySelectorAll(\'[data-chart="accuracy-vs-throughput"] '
        ".legendtext')).map(e => e.textContent)"
    )
    assert synthetic.HTML_FAMILY in legend


def test_unsupported_block_is_shown_as_unsupported(page):
    cells = page.evaluate(
        "Array.from(document.querySelectorAll('[data-chart=\"heatmap-layer-blocks\"] text'))"
        ".map(e => e.textContent)"
    )
    assert "unsupported" in cells and "failed" in cells
    statuses = column(page, "blocks-table", "status")
    assert "unsupported" in statuses


def test_power_report_draws_its_charts(browser, reports):
    powered = browser.open(reports["power"].as_uri())
    count = powered.wait_for(CHARTS_DRAWN)
    assert powered.console_errors() == []
    names = [box["name"] for box in chart_boxes(powered)]
    assert count == len(names) and "power-trace-0" in names and "power-power_w" in names


def test_the_report_tests_draw_the_table_the_workflow_writes(reports, tmp_path):
    """The tests hand the builder's table to Report; the workflow's report step reads it back
    from results.parquet. Both must be the same table, column for column and type for type."""
    table = reports["data"]["table"]
    _, parquet = write_tables(table, tmp_path)
    read_back = load_report(parquet).table
    assert list(read_back.columns) == COLUMNS
    pd.testing.assert_frame_equal(read_back, Report(table=table).table)


def test_synthetic_results_hold_every_case_the_report_tests_draw(reports):
    table = reports["data"]["table"]
    by_run = table.groupby(KEYS, sort=False)
    status = by_run["status"].agg(lambda s: set(s))
    assert status[synthetic.UNSUPPORTED] == {"unsupported"}
    assert status[synthetic.FAILED] == {"failed"}
    assert by_run["reason"].first()[synthetic.UNSUPPORTED] == synthetic.UNSUPPORTED_REASON
    assert by_run["unstable"].any()[synthetic.UNSTABLE]
    assert set(by_run["unstable"].any().loc[lambda s: s].index) == {synthetic.UNSTABLE}
    models = table[table["group"].eq("models")]
    assert set(models["batch"]) == {*synthetic.MODEL_BATCHES, synthetic.OOM_BATCH}
    oom = models[models["batch"].eq(synthetic.OOM_BATCH)]
    assert set(oom["status"]) == {"failed"} and set(oom["reason"]) == {"out of memory"}
    assert set(models["max_batch"]) == {max(synthetic.MODEL_BATCHES)}
    for (model, fmt), top1 in models.groupby(["workload", "format"])["accuracy_top1"]:
        reference = synthetic.MODELS[model][2]
        expected = reference - (synthetic.INT8_DROP if fmt == "tflite-int8" else 0)
        assert top1.tolist() == pytest.approx([expected] * len(top1)), (model, fmt)
    assert table["power_w"].isna().all()


def test_model_files_name_the_devices_that_ran_the_same_file(reports):
    report = Report(**reports["data"])
    ran_on = report.model_frame().set_index(["workload", "format"])["ran_on"]
    assert ran_on[("digits-cnn", "tflite-fp32")] == "local, edge-b"
    assert ran_on[("digits-cnn", "onnx-fp32")] == "local"
    _, workload, fmt = synthetic.DIFFERENT_FILE
    assert ran_on[(workload, fmt)] == "local, edge-b (DIFFERENT file ffffffffffff…)"
    different = ran_on.str.contains("DIFFERENT")
    assert list(ran_on[different].index) == [(workload, fmt)]


# --- stability and outliers, on the page built from raw logs --------------------------------------


@pytest.fixture(scope="module")
def measured_page(browser, measured):
    opened = browser.open(measured["index"].as_uri())
    opened.wait_for(CHARTS_DRAWN)
    return opened


ROWS = """(table => {
  const rows = document.getElementById(table);
  const heads = Array.from(rows.tHead.rows[0].cells).map(c => c.textContent);
  return Array.from(rows.tBodies[0].rows).map(r => Object.fromEntries(heads.map((h, i) =>
    [h, {text: r.cells[i].textContent.trim(),
         title: (r.cells[i].querySelector("[title]") || r.cells[i]).title}])));
})"""


def rows_of(page, table: str) -> dict[tuple, dict]:
    """The rows of a table on the page by (device, workload, format[, batch])."""
    rows = {}
    for row in page.evaluate(f"{ROWS}({json.dumps(table)})"):
        key = tuple(row[name]["text"] for name in KEYS)
        if "batch" in row:
            key += (int(row["batch"]["text"]),)
        rows[key] = row
    return rows


def test_unstable_tile_counts_the_runs_the_list_shows(measured, measured_page):
    table = measured["table"]
    unstable = table[table["unstable"].fillna(False).astype(bool)]
    runs = set(unstable[KEYS].itertuples(index=False, name=None))
    # decided on the robust CV: the run with a few stalls is not unstable, the spread ones are
    assert runs == set(UNSTABLE_BATCHES) and STALLED not in runs
    assert len(unstable) > len(runs)  # unstable rows (one per batch) outnumber unstable runs
    tile = measured_page.evaluate(
        """Array.from(document.querySelectorAll(".stat")).find(
             s => s.querySelector(".name").textContent === "unstable runs")
             .querySelector(".value").textContent"""
    )
    listed = measured_page.evaluate(f"{ROWS}('unstable-table')")
    assert int(tile) == len(listed) == len(runs)
    listed = {tuple(row[name]["text"] for name in KEYS): row for row in listed}
    assert set(listed) == runs
    heading = measured_page.evaluate("document.getElementById('unstable-runs').textContent")
    assert heading == f"Unstable runs: {len(runs)}"
    for key, batches in UNSTABLE_BATCHES.items():
        assert listed[key]["unstable at batch"]["text"] == ", ".join(map(str, sorted(batches)))


def test_a_cv_made_by_outliers_says_so_and_gives_the_robust_spread(measured_page):
    stalled = rows_of(measured_page, "blocks-table")[(*STALLED, 1)]
    cv = stalled["CV"]
    assert (
        cv["text"].endswith("outliers") and float(cv["text"].split("%")[0].replace(",", "")) > 300
    )
    assert f"slowest {STALL_MS:,.0f} ms" in cv["title"] and "IQR / median" in cv["title"]
    assert float(stalled["IQR / median"]["text"].rstrip("%")) < 10  # the other samples agree
    assert STALLED not in rows_of(measured_page, "unstable-table")  # stalls alone: stable
    assert stalled["stability"]["text"] != "unstable"
    # an unstable run whose samples are all spread out: a high CV, but no outliers to blame
    spread = rows_of(measured_page, "models-table")[("local", "mobilenetv2", "tflite-fp32", 1)]
    assert spread["stability"]["text"] == "unstable"
    assert float(spread["CV"]["text"].rstrip("%")) > 10 and "outliers" not in spread["CV"]["text"]
    text = measured_page.evaluate("document.body.innerText")
    assert "A CV marked “outliers” is made by a few samples far from the rest" in text


# --- provenance: container images -----------------------------------------------------------------

IMAGE = """(name => {
  const block = Array.from(document.querySelectorAll("#provenance .image"))
    .find(b => b.querySelector("h4").textContent === name);
  const table = title => {
    const heading = Array.from(block.querySelectorAll("h5")).find(h => h.textContent === title);
    return heading && Array.from(heading.parentElement.querySelectorAll("tbody tr"))
      .map(r => [r.cells[0].textContent, r.cells[1].textContent]);
  };
  const details = block.querySelector("details");
  return {
    text: block.innerText,
    facts: Array.from(block.querySelector("table.kv").rows)
      .map(r => [r.cells[0].textContent, r.cells[1].textContent, r.cells[1].className]),
    args: table("Build arguments"), versions: table("Tool versions"),
    packages: details && {open: details.open, summary: details.querySelector("summary").textContent,
      rows: Array.from(details.querySelectorAll("tbody tr")).map(
        r => Array.from(r.cells).map(c => c.textContent))},
  };
})"""


def image_block(page, name: str) -> dict:
    return page.evaluate(f"{IMAGE}({json.dumps(name)})")


def test_image_records_are_tables_not_python_dicts(measured_page):
    from edgebench.images.versions import read_versions

    records = {record["image"]: record for record in image_records()}
    tensorflow = image_block(measured_page, "tensorflow")
    assert tensorflow["args"] == [
        [k, v] for k, v in sorted(records["tensorflow"]["build_args"].items())
    ]
    assert ["BASE_IMAGE", "edgebench/base:bookworm"] in tensorflow["args"]
    versions = read_versions("tensorflow")
    assert tensorflow["versions"] == [
        [tool, "not found" if version is None else version]
        for tool, version in sorted(versions.items())
    ]
    facts = {name: (value, kind) for name, value, kind in tensorflow["facts"]}
    assert facts["base image id"] == ("sha256:" + "b" * 64, "mono")
    assert facts["image id"] == ("sha256:" + "a" * 64, "mono")
    assert facts["build time (s)"][0] == "312.4" and facts["needs a GPU"][0] == "no"
    text = measured_page.evaluate("document.getElementById('provenance').innerText")
    assert "{" not in text.split("Configuration")[0] and "': '" not in text


def test_installed_packages_are_listed_folded_away(measured_page):
    from importlib import metadata

    tensorflow = image_block(measured_page, "tensorflow")["packages"]
    python = {dist.metadata["Name"]: dist.version for dist in metadata.distributions()}
    total = len(python) + 1
    assert not tensorflow["open"]
    assert tensorflow["summary"] == f"{total} installed packages (python: {len(python)}, debian: 1)"
    assert len(tensorflow["rows"]) == total
    assert ["python", "numpy", np.__version__] in tensorflow["rows"]
    assert ["debian", "libc6", "2.36-9+deb12u13"] in tensorflow["rows"]
    openvino = image_block(measured_page, "openvino")["packages"]
    assert openvino["summary"] == "2 installed packages"
    assert openvino["rows"] == [["numpy", "2.1.0"], ["openvino", "2025.3.0"]]
    failed = image_block(measured_page, "edgetpu")
    assert failed["packages"] is None and failed["args"]
    assert ["status", "failed", ""] in failed["facts"]
    assert "Unable to locate package" in failed["text"]


def test_an_auc_workload_shows_its_auc_where_top1_would_be(reports):
    table = reports["data"]["table"].copy()
    models = table["group"].eq("models") if "group" in table else table.index == table.index[0]
    table.loc[models, "accuracy_auc"] = 0.8125
    page = Report(**{**reports["data"], "table": table}).html()
    assert ">AUC<" in page and "0.8125" in page


# --- the page as a reader meets it (issue 21, item 18) --------------------------------------------

# Recorded before the page's own scripts run: each chart's first drawing (its width and how far
# right its bars reach from the chart's left edge), whatever redraws it later. A screenshot, a
# print or a slow machine shows that first drawing.
FIRST_DRAWINGS = """
window.__firstDrawings = {};
new MutationObserver(() => {
  for (const chart of document.querySelectorAll(".plotly-graph-div")) {
    if (chart.id in window.__firstDrawings || !chart._fullLayout) continue;
    if (!chart.querySelector("svg.main-svg")) continue;
    const left = chart.getBoundingClientRect().left;
    const bars = Array.from(chart.querySelectorAll(".barlayer .point path"))
      .map(bar => bar.getBoundingClientRect().right - left);
    window.__firstDrawings[chart.id] = {width: chart._fullLayout.width,
                                        bars_right: Math.max(0, ...bars)};
  }
}).observe(document, {childList: true, subtree: true});
"""
# Every chart, after the page settled: its box, its container's, and where its bars lie
# against its plot area (the drag rectangle Plotly lays over it) and the window.
CHART_PLACES = """Array.from(document.querySelectorAll(".plotly-graph-div")).map(chart => {
  const box = chart.getBoundingClientRect();
  const holder = chart.closest(".chart").parentElement.getBoundingClientRect();
  const areas = Array.from(chart.querySelectorAll(".nsewdrag")).map(a => a.getBoundingClientRect());
  const outside = Array.from(chart.querySelectorAll(".barlayer .point path")).filter(bar => {
    const r = bar.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return false;
    const inArea = areas.some(a => r.left >= a.left - 1 && r.right <= a.right + 1);
    return !inArea || r.right > box.right + 1 || r.right > window.innerWidth;
  }).length;
  return {id: chart.id, name: chart.closest("[data-chart]").dataset.chart,
          left: box.left, right: box.right, holder_left: holder.left, holder_right: holder.right,
          bars: chart.querySelectorAll(".barlayer .point path").length, outside: outside,
          window: window.innerWidth};
})"""


def open_recording_first_drawings(browser, url: str, width: int):
    page = browser.open("about:blank", width=width)
    page.browser.call(
        "Page.addScriptToEvaluateOnNewDocument", {"source": FIRST_DRAWINGS}, session=page.session
    )
    page.browser.call("Page.navigate", {"url": url}, session=page.session)
    page.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")
    page.wait_for(CHARTS_DRAWN)
    page.wait_for(CHARTS_FIT, timeout=30)
    return page


@pytest.mark.parametrize("width", [1400, 390])
def test_every_chart_is_first_drawn_inside_its_box_and_the_window(browser, measured, width):
    page = open_recording_first_drawings(browser, measured["index"].as_uri(), width)
    first = page.evaluate("window.__firstDrawings")
    places = page.evaluate(CHART_PLACES)
    assert len(places) >= 10 and set(first) == {p["id"] for p in places}
    assert sum(p["bars"] for p in places if p["name"].startswith("devices-")) > 0
    for place in places:
        drawn = first[place["id"]]
        where = f"at {width} px, chart {place['name']}"
        box_width = place["right"] - place["left"]
        assert drawn["width"] <= box_width + 1, f"{where}: first drawn {drawn} in {box_width} px"
        assert drawn["bars_right"] <= box_width + 1, f"{where}: bars cut off in {drawn}"
        assert place["left"] >= place["holder_left"] - 1 and place["left"] >= 0, place
        assert place["right"] <= min(place["holder_right"], place["window"]) + 1, place
        assert place["outside"] == 0, f"{where}: bars outside the plot area: {place}"


# Where a failed or unsupported row's reason cell lies in the window, as first shown (no
# sideways scroll of its table): its left and right edge, and the visible part of its table.
REASON_PLACES = """(table => {
  const rows = document.getElementById(table);
  const i = Array.from(rows.tHead.rows[0].cells).findIndex(c => c.textContent === "reason");
  const wrap = rows.closest(".table-wrap").getBoundingClientRect();
  return Array.from(rows.tBodies[0].rows).filter(r => r.cells[i].textContent !== "—").map(r => {
    const cell = r.cells[i].getBoundingClientRect();
    return {text: r.cells[i].textContent, left: cell.left, right: cell.right,
            visible: Math.min(wrap.right, window.innerWidth)};
  });
})"""


@pytest.mark.parametrize("table", ["models-table", "blocks-table"])
def test_a_failures_reason_is_seen_without_scrolling_sideways(browser, reports, table):
    page = browser.open(reports["index"].as_uri(), width=1400)
    page.wait_for(CHARTS_DRAWN)
    places = page.evaluate(f"{REASON_PLACES}({json.dumps(table)})")
    texts = {place["text"] for place in places}
    expected = (
        {"out of memory"}
        if table == "models-table"
        else {synthetic.UNSUPPORTED_REASON, synthetic.FAILED_REASON}
    )
    assert texts == expected
    for place in places:
        assert place["right"] <= place["visible"] + 1, f"{table}: reason off-screen: {place}"


# What OpenVINO says it used: a detail string longer than a table cell is wide.
RUNTIME_PROPERTIES = {
    "PERFORMANCE_HINT": "LATENCY",
    "INFERENCE_PRECISION_HINT": "f32",
    "INFERENCE_NUM_THREADS": 4,
    "NUM_STREAMS": 1,
    "AFFINITY": "CORE",
    "ENABLE_HYPER_THREADING": "NO",
    "SCHEDULING_CORE_TYPE": "ANY_CORE",
    "EXECUTION_MODE_HINT": "PERFORMANCE",
}
DETAILS = """(selector => Array.from(document.querySelectorAll(selector)).map(cell => {
  const r = cell.getBoundingClientRect();
  return {text: cell.textContent, right: r.right, height: r.height, clipped:
          cell.scrollWidth > cell.clientWidth + 1, window: window.innerWidth};
}))"""
# A block timed at about 761 ns per inference: its figures in ms are 0.000761.
SUB_MICROSECOND = ("local", "layer-fc-128-32", "tflite-fp32")
NUMBER_IN = r"(\d[\d,]*(?:\.\d+)?)"


@pytest.fixture(scope="module")
def sub_microsecond(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sub-microsecond")
    rng = np.random.default_rng(3)
    latencies = (rng.normal(761, 20, 400).round() / synthetic.MS).tolist()  # whole ns, as timed
    device, workload, fmt = SUB_MICROSECOND
    run = synthetic.write_run(root, device, workload, fmt, {1: latencies}, processes=2)
    records = [json.loads(line) for line in run.read_text().splitlines()]
    for record in records:
        if record["type"] == "batch":
            record["runtime"] = {"device": "CPU", "properties": RUNTIME_PROPERTIES}
    run.write_text("".join(json.dumps(record) + "\n" for record in records))
    meta = synthetic.write_meta(root, workload, "layer-blocks", "fc", 8192)
    table = build_table(
        runs=[run],
        conversions=[synthetic.write_conversion(root, workload, fmt)],
        metas=[meta],
        devices={device: synthetic.DEVICES[device]},
        plan_rows=[SUB_MICROSECOND],
        references={},
        datasets={},
    )
    digest = device_digest(device, synthetic.DEVICES[device], [run])
    return Report(table=table, digests=[digest]).write(root / "index.html")


def test_a_sub_microsecond_interval_keeps_its_significant_digits(browser, sub_microsecond):
    import re

    page = browser.open(sub_microsecond.as_uri(), width=1400)
    page.wait_for(CHARTS_DRAWN)
    (row,) = rows_of(page, "repeatability-table").values()
    text = row["95% interval of the median"]["text"]
    found = re.fullmatch(rf"{NUMBER_IN} – {NUMBER_IN} ns \(±{NUMBER_IN}%\)", text)
    assert found, text
    low, high, percent = (float(n.replace(",", "")) for n in found.groups())
    assert 700 < low < high < 820 and 0 < percent < 5, text
    assert (
        row["median"]["text"].endswith(" ns")
        and row["per-process medians"]["text"].count("ns") == 2
    )
    (block,) = rows_of(page, "blocks-table").values()
    assert re.fullmatch(rf"{NUMBER_IN} – {NUMBER_IN} ns", block["95% CI of median"]["text"])
    assert block["median"]["text"] == duration(float(block["median"]["text"].split()[0]) / 1e6)


def test_an_interval_has_the_digits_that_tell_its_ends_apart():
    assert interval(0.00076102, 0.00076105, 0.000761035) == "761.02 – 761.05 ns (±0.0020%)"
    assert interval(4.9, 5.3, 5.1) == "4.90 – 5.30 ms (±3.9%)"
    assert interval(0.25, 0.2503) == "250.0 – 250.3 µs"
    assert [duration(v) for v in (1500, 5.099, 0.2526, 0.000761)] == [
        "1,500 ms",
        "5.10 ms",
        "253 µs",
        "761 ns",
    ]


@pytest.mark.parametrize("width", [1400, 390])
def test_runtime_details_are_shown_whole_and_wrapped(browser, sub_microsecond, width):
    expected = "device CPU; " + "; ".join(f"{k} {v}" for k, v in sorted(RUNTIME_PROPERTIES.items()))
    page = browser.open(sub_microsecond.as_uri(), width=width)
    page.wait_for(CHARTS_DRAWN)
    heads = page.evaluate(
        "Array.from(document.querySelectorAll('#blocks-table thead th, #runtimes-table thead th'))"
        ".map(h => h.textContent)"
    )
    assert "runtime details" in heads and "what the runtime used" in heads
    for table, title in (
        ("blocks-table", "runtime details"),
        ("runtimes-table", "what the runtime used"),
    ):
        index = page.evaluate(
            f"Array.from(document.querySelectorAll('#{table} thead th')).map(h => h.textContent)"
        ).index(title)
        (cell,) = page.evaluate(f"{DETAILS}('#{table} tbody td:nth-child({index + 1})')")
        assert cell["text"] == expected, cell
        assert not cell["clipped"] and cell["height"] > 30, f"{table} at {width} px: {cell}"


SHOWN_REASONS = """(section => Array.from(document.querySelectorAll(
    `#${section} ul.did-not-run .why`)).map(why => {
  const r = why.getBoundingClientRect();
  return {text: why.textContent, left: r.left, right: r.right, window: window.innerWidth,
          rows: why.parentElement.textContent};
}))"""


@pytest.mark.parametrize("width", [1400, 390])
@pytest.mark.parametrize("section", ["models", "blocks"])
def test_every_failures_reason_is_in_the_window_at_any_width(browser, reports, section, width):
    page = browser.open(reports["index"].as_uri(), width=width)
    page.wait_for(CHARTS_DRAWN)
    shown = page.evaluate(f"{SHOWN_REASONS}({json.dumps(section)})")
    expected = (
        {"out of memory"}
        if section == "models"
        else {synthetic.UNSUPPORTED_REASON, synthetic.FAILED_REASON}
    )
    assert {why["text"] for why in shown} == expected
    for why in shown:
        assert 0 <= why["left"] and why["right"] <= why["window"], f"at {width} px: {why}"
    if section == "blocks":
        (crashed,) = [why for why in shown if why["text"] == synthetic.FAILED_REASON]
        assert " · ".join(synthetic.FAILED) in crashed["rows"]
