"""Extension points as a lab meets them: a plugin distribution outside edgebench
(tests/plugins/edgebench-lab-plugin), installed with pip as a lab installs one, adds a transport
that the real workflow drives through the DAG with no edit anywhere in edgebench; and every
registered entry, built-in or plugin, honours its interface. (Runtime and power source
plugins have their own tests: test_runtimes.py, test_power_registry.py.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from conftest import Project, readme_example
from edgebench.agent.registry import contract_problems
from edgebench.convert.interface import CONVERTERS, FileConverter, ModelConverter, converter_of
from edgebench.devices.transport import TRANSPORTS, Transport
from edgebench.formats import FORMATS

PLUGIN = Path(__file__).parent / "plugins" / "edgebench-lab-plugin"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The plugin installed into a folder of its own (on PYTHONPATH for the workflow), built
    from a copy so that the source tree stays clean."""
    root = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN, root / "source")
    site = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    return site


def with_plugin(site: Path) -> dict:
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "2"}


@pytest.mark.integration
def test_a_plugins_transport_format_and_meter_run_through_the_dag_with_no_edit_in_edgebench(
    plugin_site, tmp_path
):
    project = Project(tmp_path / "project")
    run_folder = tmp_path / "lab-board"
    run_folder.mkdir()
    project.write_yaml(
        "devices/lab.yaml",
        {"name": "lab", "transport": "folder", "run_folder": str(run_folder),
         "formats": ["tflite-fp32", "onnx-fp32", "onnx-ortopt"],
         "power": {"source": "constant-watts", "watts": 2.5, "idle_s": 0.5}},
    )  # fmt: skip
    selection = ["--config", "devices=lab", "workloads=layer-fc-128-32",
                 "formats=tflite-fp32,onnx-ortopt"]  # fmt: skip
    result = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "--cores", "2", *selection],
        cwd=project.root, capture_output=True, text=True, env=with_plugin(plugin_site),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = pd.read_csv(project.root / "results/tables/results.csv")
    rows = rows.sort_values("format")
    assert rows[["device", "workload", "format", "status"]].values.tolist() == [
        ["lab", "layer-fc-128-32", "onnx-ortopt", "ok"],
        ["lab", "layer-fc-128-32", "tflite-fp32", "ok"],
    ]
    assert (rows.latency_ms_median > 0).all()
    assert rows.power_w.tolist() == pytest.approx([2.5, 2.5]) and (rows.power_samples >= 10).all()
    made = project.root / "results/converted/layer-fc-128-32"
    assert json.loads((made / "onnx-ortopt.json").read_text())["status"] == "ok"
    assert (made / "onnx-ortopt.onnx").stat().st_size > 0  # written by the plugin's converter
    log = next((project.root / "results/logs/run/lab").rglob("*.log")).read_text()
    assert f"folder transport: running in {run_folder}" in log
    # without the plugin, the same selection is refused at load, naming what is installed
    result = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-n", "--cores", "1", *selection],
        cwd=project.root, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert any(name in result.stderr for name in ("onnx-ortopt", "'folder'", "'constant-watts'"))


def test_a_plugin_that_takes_a_built_in_name_or_fails_to_import_is_refused_at_load(
    plugin_site, tmp_path
):
    """The registry's errors reach the user as one line at load (see test_registry.py for
    each kind of error)."""
    broken = tmp_path / "broken"
    shutil.copytree(plugin_site, broken)
    module = broken / "edgebench_lab_plugin" / "transport.py"
    module.write_text(module.read_text().replace('name = "folder"', 'name = "ssh"'))
    check = "from edgebench.devices.transport import TRANSPORTS; TRANSPORTS.entries()"
    result = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, env=with_plugin(broken)
    )
    assert "two transports are named 'ssh'" in result.stderr
    assert "edgebench-lab-plugin 0.1.0" in result.stderr


@pytest.mark.parametrize("name", TRANSPORTS.names())
def test_every_transport_honours_the_interface(name):
    entry = TRANSPORTS.get(name)
    assert contract_problems(entry, Transport) == []
    jsonschema.Draft202012Validator.check_schema({"type": "object", "properties": entry.options})
    assert set(entry.required) <= set(entry.options)
    assert entry.formats is None or set(entry.formats) <= set(FORMATS)
    assert isinstance(entry.stages_agent, bool) and isinstance(entry.runs_here, bool)


@pytest.mark.parametrize("kind", ["transport", "converter"])
def test_the_readme_shows_the_plugin_modules_the_tests_run(kind):
    module = PLUGIN / "edgebench_lab_plugin" / f"{'convert' if kind == 'converter' else kind}.py"
    assert readme_example(f"{kind} plugin module") == module.read_text()


@pytest.mark.parametrize("name", CONVERTERS.names())
def test_every_converter_honours_the_interface_and_makes_formats_the_rest_can_use(name):
    from edgebench.agent.runtimes import REGISTRY as RUNTIMES

    entry = CONVERTERS.get(name)
    kind = FileConverter if issubclass(entry, FileConverter) else ModelConverter
    assert contract_problems(entry, kind) == []
    repo = Path(__file__).parents[1]
    for fmt in entry.formats:
        assert fmt.runtime in RUNTIMES.names(), f"{fmt.name}: no runtime {fmt.runtime}"
        assert (repo / "containers" / fmt.image / "Dockerfile").is_file(), fmt.image
        assert (fmt.source is None) == (kind is ModelConverter)
        assert fmt.source is None or fmt.source in FORMATS
        assert FORMATS[fmt.name] == fmt and converter_of(fmt) is entry
        assert fmt.colour is None or re.fullmatch(r"#[0-9a-f]{6}", fmt.colour), fmt.colour
    assert entry.flags({"format": entry.formats[0].name}) == []  # a record without findings
