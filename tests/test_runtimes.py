"""The agent runtime registry: every runtime, built-in or plugin, honours the interface; the
profile schema's `runtimes` modules and runtime keys, the board probe and the README's runtime
table come from the runtimes' declarations (so the schema cannot refuse a module a runtime
drives); a plugin runtime (the README's example, installed as a distribution) is registered,
checked, staged with the agent and run on the board's copy, which has no distribution."""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import readme_example
from edgebench import plugins, power
from edgebench.agent import runtimes
from edgebench.agent.registry import BUILT_IN, PluginError, contract_problems
from edgebench.agent.runtimes import REGISTRY, Runtime, RuntimeUnavailable
from edgebench.devices.staging import AGENT_PACKAGE, stage_run
from edgebench.formats import FORMATS
from edgebench.settings.errors import ConfigError
from edgebench.settings.files import SCHEMAS, schema_path, validated
from jsonschema import Draft202012Validator

README = Path(__file__).resolve().parents[1] / "README.md"
BUILT_INS = REGISTRY.names()
PROFILE = {
    "name": "board",
    "transport": "local",
    "formats": ["tflite-fp32"],
    "power": {"source": "none"},
}


def conformance_problems(entry: type[Runtime]) -> list[str]:
    """What an entry of the runtime registry gets wrong of the interface's contract."""
    problems = contract_problems(entry, Runtime)
    if not entry.modules or not all(isinstance(v, str) and v for v in entry.modules.values()):
        problems.append(f"{entry.name}: modules must map each top-level module to an import")
    for name, target in entry.modules.items():
        if target.partition(":")[0].split(".")[0] != name:
            problems.append(f"{entry.name}: {name!r} imports {target!r}, another module")
    if not entry.suffixes or not all(s.startswith(".") for s in entry.suffixes):
        problems.append(f"{entry.name}: suffixes must be file suffixes ('.tflite')")
    parameters = inspect.signature(entry.__init__).parameters
    if list(parameters)[1:2] != ["wanted"]:
        problems.append(f"{entry.name}: the constructor's first argument must be `wanted`")
    for key, schema in entry.options.items():
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as error:
            problems.append(f"{entry.name}: option {key}'s schema is invalid: {error}")
            continue
        if "default" in schema and not Draft202012Validator(schema).is_valid(schema["default"]):
            problems.append(f"{entry.name}: option {key}'s default fails its own schema")
        if key not in parameters:
            problems.append(f"{entry.name}: the constructor takes no {key}")
        elif parameters[key].default not in (None, schema.get("default")):
            problems.append(f"{entry.name}: the constructor's default of {key} is not declared")
        if not schema.get("description"):
            problems.append(f"{entry.name}: option {key} has no description")
    for text in (entry.summary, entry.records):
        if not isinstance(text, str) or not text or "|" in text or "\n" in text:
            problems.append(f"{entry.name}: summary and records are one table cell each")
    return problems


@pytest.mark.parametrize("name", BUILT_INS)
def test_every_runtime_honours_the_interface(name):
    entry = REGISTRY.get(name)
    assert conformance_problems(entry) == []
    # it drives only the modules it declares: another is refused before anything is imported
    if name != "edgetpu":  # the Edge TPU looks for its delegate library first
        with pytest.raises(RuntimeUnavailable, match="cannot drive 'not_a_module'"):
            entry("not_a_module")


def test_every_format_names_a_registered_runtime_that_loads_its_files():
    for fmt in FORMATS.values():
        assert fmt.runtime in REGISTRY.names(), fmt.name
        assert fmt.suffix in REGISTRY.get(fmt.runtime).suffixes, fmt.name


def test_importing_the_runtimes_imports_no_vendor_library():
    vendor = {m for e in REGISTRY.entries().values() for m in [*e.modules, *e.imports]} - {"numpy"}
    probe = (
        "import sys; import edgebench.agent.runtimes as r; r.REGISTRY.entries();"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not set(loaded) & vendor


def device_schema() -> dict:
    return yaml.safe_load(schema_path("device.schema.yaml").read_text())


def test_the_profile_schema_takes_the_runtimes_declarations_and_nothing_else_lists_them():
    assert (
        "edgebench.agent.runtimes:fill_device_schema"
        in plugins.SCHEMA_FILLERS["device.schema.yaml"]
    )
    assert runtimes.GROUP == plugins.GROUPS["runtimes"]
    written = yaml.safe_load((SCHEMAS / "device.schema.yaml").read_text())["properties"]
    assert "properties" not in written["runtimes"]  # no module names kept in the file
    derived = device_schema()["properties"]
    for name, entry in REGISTRY.entries().items():
        assert derived["runtimes"]["properties"][name]["enum"] == list(entry.modules)
        for key, fragment in entry.options.items():
            assert key not in written  # one declaration: the runtime's
            assert derived[key] == {k: v for k, v in fragment.items() if k != "default"}


@pytest.mark.parametrize("name", BUILT_INS)
def test_a_profile_may_name_every_module_its_runtime_drives(name):
    """The Edge TPU runtime drives ai_edge_litert; a schema of its own refused it. Now the
    schema's modules are the runtime's own."""
    for module in REGISTRY.get(name).modules:
        profile = {**PROFILE, "runtimes": {name: module}}
        assert validated(profile, "device.schema.yaml", "devices/board.yaml") == profile
    with pytest.raises(ConfigError, match=rf"'runtimes.{name}' = 'onnx_rt' is not one of"):
        validated({**PROFILE, "runtimes": {name: "onnx_rt"}}, "device.schema.yaml", "board")


def test_the_edge_tpu_runs_with_ai_edge_litert_when_the_profile_names_it(monkeypatch):
    from edgebench.agent.runtimes import edgetpu

    interpreter = types.ModuleType("ai_edge_litert.interpreter")
    interpreter.Interpreter = object
    interpreter.load_delegate = lambda library, options: None
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", interpreter)
    monkeypatch.setattr(edgetpu, "load_library", lambda library: object())
    monkeypatch.setattr(edgetpu, "installed_clock", lambda: None)
    runtime = runtimes.load_runtime("edgetpu", "ai_edge_litert", {"edgetpu_device": "usb"})
    assert (runtime.module, runtime.device) == ("ai_edge_litert", "usb")
    profile = {**PROFILE, "runtimes": {"edgetpu": "ai_edge_litert"}, "edgetpu_device": "usb"}
    validated(profile, "device.schema.yaml", "devices/coral.yaml")


def test_the_host_sends_the_keys_each_runtime_declares_and_probes_its_modules():
    from edgebench.devices.dispatch import probe_runtime, runtime_options

    profile = {"onnx_providers": ["CUDAExecutionProvider"], "dla_core": 1, "threads": 2}
    assert runtime_options(profile, "onnx-fp32") == {
        "precision": "fp32",
        "onnx_providers": ["CUDAExecutionProvider"],
    }
    assert runtime_options(profile, "tensorrt-fp16") == {"precision": "fp16", "dla_core": 1}

    class Transport:
        python = "python3"

        def run_python(self, script, *modules):
            self.asked = modules
            return types.SimpleNamespace(stdout="{}\n")

    transport = Transport()
    reason = probe_runtime(transport, {"device": "d", "runtime_family": "edgetpu"})
    assert transport.asked == tuple(REGISTRY.get("edgetpu").modules)
    assert "none of pycoral, tflite_runtime, ai_edge_litert imports" in reason


def test_the_agent_fills_in_declared_defaults_and_the_formats_precision():
    keywords = runtimes.keywords
    tensorrt, onnx = REGISTRY.get("tensorrt"), REGISTRY.get("onnx")
    assert keywords(tensorrt, {"precision": "int8"}) == {"end_to_end": False, "precision": "int8"}
    assert keywords(onnx, {"precision": "fp32"}) == {"onnx_providers": ["CPUExecutionProvider"]}
    assert keywords(REGISTRY.get("tflite"), {"precision": "fp32", "dla_core": 0}) == {}


def test_the_headers_runtime_versions_cover_every_runtimes_modules():
    from edgebench.agent.facts import runtime_distributions

    declared = {m.replace("_", "-") for e in REGISTRY.entries().values() for m in e.modules}
    assert set(runtime_distributions()) == declared  # openvino's too, which a list had missed


def test_the_readme_runtime_table_is_the_registrys():
    text = README.read_text()
    generated = text.split("<!-- runtimes:start -->\n")[1].split("\n<!-- runtimes:end -->")[0]
    assert generated == runtimes.markdown()


# -- a plugin runtime: the README's example as an installed distribution ------------------------


def install(site: Path, module: str, source: str, pyproject: str) -> None:
    """A distribution as importlib.metadata finds one installed: its module and .dist-info."""
    project = tomllib.loads(pyproject)["project"]
    (site / f"{module}.py").write_text(source)
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = [f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
             for group, points in project["entry-points"].items()]  # fmt: skip
    info.joinpath("entry_points.txt").write_text("\n".join(lines))


def forget_registry():
    REGISTRY._entries = None
    REGISTRY.origins.clear()


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """The README's runtime plugin installed (on sys.path of this process only)."""
    site = tmp_path / "site"
    site.mkdir()
    install(
        site,
        "edgebench_numpy_dot",
        readme_example("runtime plugin module"),
        readme_example("runtime plugin pyproject"),
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    forget_registry()
    yield site
    forget_registry()
    for name in [m for m in sys.modules if m.startswith(("edgebench_numpy_dot", "ebt_"))]:
        del sys.modules[name]


def plugin_job(**overrides) -> dict:
    job = {
        "device": "local",
        "workload": "matrix",
        "format": "numpy-dot-fp32",
        "runtime_family": "numpy-dot",
        "runtime_module": None,
        "runtime_options": {"precision": "fp32", "numpy_dot_transpose": True},
        "batch_sizes": [1, 4],
        "timing": {"warmup_runs": 2, "warmup_s": 0.0, "min_runs": 5, "min_s": 0.0, "max_s": 1},
        "threads": 1,
        "seed": 0,
        "input_range": [-1.0, 1.0],
    }
    return {**job, **overrides}


def run_staged(stage: Path) -> list[dict]:
    """The staged agent run as on a board: nothing of this test's sys.path is on its path."""
    subprocess.run(
        [sys.executable, "-m", AGENT_PACKAGE, "job.json"], cwd=stage, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return [json.loads(line) for line in (stage / "out" / "run.jsonl").read_text().splitlines()]


def test_a_plugin_runtime_is_registered_checked_staged_and_run_on_the_board(plugin, tmp_path):
    entry = REGISTRY.get("numpy-dot")
    assert REGISTRY.origins["numpy-dot"] == "edgebench-numpy-dot 0.1"
    assert conformance_problems(entry) == []
    # the profile schema takes its module and option, and refuses what it does not declare
    profile = {**PROFILE, "runtimes": {"numpy-dot": "numpy"}, "numpy_dot_transpose": True}
    assert validated(dict(profile), "device.schema.yaml", "devices/board.yaml") == profile
    with pytest.raises(ConfigError, match="numpy_dot_transpose"):
        validated({**profile, "numpy_dot_transpose": "yes"}, "device.schema.yaml", "board")
    # the stage carries its module; the board's agent, with no distribution, runs it
    matrix = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(tmp_path / "matrix.npy", matrix)
    stage = tmp_path / "stage"
    stage_run(stage, tmp_path / "matrix.npy", plugin_job(), None)
    staged = stage / AGENT_PACKAGE / "plugins"
    assert (staged / "edgebench_numpy_dot.py").read_text() == readme_example(
        "runtime plugin module"
    )
    assert json.loads((staged / "origins.json").read_text()) == {
        "edgebench_numpy_dot": "edgebench-numpy-dot 0.1"
    }
    log = run_staged(stage)
    header, batches, end = log[0], [r for r in log if r["type"] == "batch"], log[-1]
    assert end["status"] == "complete"
    assert header["runtime"]["name"] == "numpy" and header["runtime"]["version"] == np.__version__
    assert [b["batch"] for b in batches] == [1, 4] and all(b["status"] == "ok" for b in batches)
    assert batches[0]["runtime"] == {"transposed": True}


def test_an_on_board_power_plugin_ships_with_the_agent_and_samples_on_the_board(plugin, tmp_path):
    """The README's on-board source, installed beside the runtime plugin: staged with the agent,
    registered by the board's agent from its plugins folder, read during the timed windows."""
    from edgebench.agent import power_sources
    from edgebench.power import power_settings

    install(
        plugin, "edgebench_board_watts", readme_example("on-board power source plugin module"),
        "[project]\nname = 'edgebench-board-watts'\nversion = '0.2'\n"
        "[project.entry-points.'edgebench.power_sources']\n"
        "board-watts = 'edgebench_board_watts:BoardWatts'\n",
    )  # fmt: skip
    for registry in (power_sources.ON_BOARD, power.SOURCES):
        registry._entries = None
    try:
        readout = tmp_path / "watts"
        readout.write_text("3.25")
        settings = power_settings({"source": "board-watts", "path": str(readout), "idle_s": 0})
        np.save(tmp_path / "matrix.npy", np.eye(3, dtype=np.float32))
        stage = tmp_path / "stage"
        timing = {"warmup_runs": 0, "warmup_s": 0.0, "min_runs": 5, "min_s": 0.3, "max_s": 1}
        stage_run(stage, tmp_path / "matrix.npy", plugin_job(power=settings, timing=timing), None)
        origins = json.loads((stage / AGENT_PACKAGE / "plugins" / "origins.json").read_text())
        assert origins["edgebench_board_watts"] == "edgebench-board-watts 0.2"
        log = run_staged(stage)
        assert log[-1]["status"] == "complete", log[-1]
        records = [json.loads(line) for line in (stage / "out/power.jsonl").read_text().split()]
        assert records[0]["source"] == "board-watts" and records[0]["clock"] == "device-monotonic"
        samples = [r for r in records if r["type"] == "sample"]
        assert len(samples) >= 3 and {s["watts"] for s in samples} == {3.25}
    finally:
        sys.modules.pop("edgebench_board_watts", None)
        for registry in (power_sources.ON_BOARD, power.SOURCES):
            registry._entries = None


def test_a_plugin_that_does_not_import_on_the_board_is_unsupported_naming_it(plugin, tmp_path):
    np.save(tmp_path / "matrix.npy", np.eye(3, dtype=np.float32))
    stage = tmp_path / "stage"
    stage_run(stage, tmp_path / "matrix.npy", plugin_job(), None)
    module = stage / AGENT_PACKAGE / "plugins" / "edgebench_numpy_dot.py"
    module.write_text("import vendor_sdk_absent_here\n" + module.read_text())
    log = run_staged(stage)
    end = log[-1]
    assert "numpy" not in log[0]["facts"]["runtimes"]  # the built-ins' facts, still recorded
    assert end["status"] == "unsupported"
    assert "edgebench-numpy-dot 0.1" in end["reason"] and "vendor_sdk_absent_here" in end["reason"]


def test_without_plugins_the_stage_is_the_built_in_agent(tmp_path):
    np.save(tmp_path / "matrix.npy", np.eye(3, dtype=np.float32))
    stage_run(tmp_path / "stage", tmp_path / "matrix.npy", plugin_job(), None)
    assert not (tmp_path / "stage" / AGENT_PACKAGE / "plugins").exists()
    assert all(REGISTRY.origins[name] == BUILT_IN for name in REGISTRY.names())


def test_a_plugin_option_that_is_another_profile_key_is_refused_naming_it(plugin):
    source = readme_example("runtime plugin module").replace('"numpy_dot_transpose"', '"threads"')
    source = source.replace("numpy_dot_transpose=False", "threads=None")
    pyproject = readme_example("runtime plugin pyproject").replace(
        "edgebench-numpy-dot", "ebt-clash"
    )
    pyproject = pyproject.replace("edgebench_numpy_dot:", "ebt_clash:")
    pyproject = pyproject.replace("numpy-dot =", "clash =")
    install(plugin, "ebt_clash", source.replace('name = "numpy-dot"', 'name = "clash"'), pyproject)
    importlib.invalidate_caches()
    forget_registry()
    with pytest.raises(PluginError, match=r"the clash runtime \(ebt-clash 0.1\).*'threads'"):
        runtimes.fill_device_schema(yaml.safe_load((SCHEMAS / "device.schema.yaml").read_text()))
