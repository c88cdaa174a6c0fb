"""The power source registry: every source (built-in or plugin) honours the contract, the
profile schema and the checks at load come from its declarations, the README's table lists
exactly the built-ins, and the README's plugin example is installed and samples."""

from __future__ import annotations

import json
import re
import sys
import time
import tomllib

import edgebench.power as power
import pytest
import yaml
from edgebench.agent.power_common import KINDS, PowerSource, PowerSourceRegistry
from edgebench.agent.registry import BUILT_IN, PluginError, contract_problems
from edgebench.plugins import GROUPS
from edgebench.testing.project import REPO
from jsonschema import Draft202012Validator

BUILT_INS = {"tegrastats", "ina3221", "rapl", "um24c", "um25c", "um34c", "serial-meter", "command"}


@pytest.mark.parametrize("name", power.SOURCES.names())
def test_every_registered_source_honours_the_contract(name):
    entry = power.SOURCES.get(name)
    assert contract_problems(entry, PowerSource) == []
    assert entry.kind in KINDS and isinstance(entry.on_board, bool)
    assert 0 <= entry.min_interval_ms <= entry.default_interval_ms
    assert set(entry.required) <= set(entry.options), "a required option is declared"
    assert not set(entry.options) & {"source", "interval_ms", "idle_s", "min_samples"}
    for key, rule in entry.option_schemas().items():
        Draft202012Validator.check_schema(rule)
        if "default" in rule:  # the default is a value the rule accepts
            Draft202012Validator(rule).validate(rule["default"])
        assert key not in entry.required or "default" not in rule, f"{key}: required or default"
    if entry.on_board:  # it runs on the board: in the agent package (standard library only)
        assert entry.__module__.startswith("edgebench.agent.power_sources.")
    else:
        assert not entry.__module__.startswith("edgebench.agent")


def test_the_built_ins_are_found_by_module_on_their_side():
    built_in = {n for n in power.SOURCES.names() if power.SOURCES.origins[n] == BUILT_IN}
    assert built_in == BUILT_INS
    assert set(power.SOURCES.on_board()) >= {"tegrastats", "ina3221", "rapl"}
    assert power.host_sources()[0] == "none" and "rapl" not in power.host_sources()
    from edgebench.agent.power_sources import ON_BOARD

    assert set(ON_BOARD.names()) == {"tegrastats", "ina3221", "rapl"}  # the agent's own view


def derived_power_schema() -> dict:
    from edgebench.settings.files import schema_path

    schema = yaml.safe_load(schema_path("device.schema.yaml").read_text())
    Draft202012Validator.check_schema(schema)
    return schema["properties"]["power"]


def test_the_profile_schema_takes_its_sources_and_option_rules_from_the_registry():
    written = yaml.safe_load((REPO / "config" / "device.schema.yaml").read_text())
    assert "enum" not in written["properties"]["power"]["properties"]["source"]
    schema = derived_power_schema()
    assert schema["properties"]["source"]["enum"] == ["none", *power.SOURCES.names()]
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"source": "tegrastats", "command": ["sudo", "tegrastats"]})
    assert not validator.is_valid({"source": "command", "command": "my-meter --port x"})
    assert not validator.is_valid({"source": "um25c", "port": "/dev/x", "interval_ms": 100})
    assert not validator.is_valid({"source": "rapl", "domains": []})
    assert not validator.is_valid({"source": "none", "rail": "VDD_IN"})
    assert '"default":' not in json.dumps(schema), "defaults stay out: a profile is kept as written"


def test_power_settings_fill_the_source_s_declared_interval():
    settings = power.power_settings({"source": "ina3221"})
    assert settings["interval_ms"] == 20 and settings["min_samples"] == 10
    assert power.power_settings({"source": "none"}) is None


def test_the_readme_power_table_lists_exactly_the_built_in_sources():
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Power\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = {name for row in rows for name in re.findall(r"`([^`]+)`", row.split("|")[1])}
    assert listed == BUILT_INS
    for row in rows:  # each row names its sources' options, and the numeric defaults it gives
        cells = row.split("|")
        options = cells[-2]
        for name in re.findall(r"`([^`]+)`", cells[1]):
            entry = power.SOURCES.get(name)
            for key in [*entry.options, "interval_ms"]:
                assert f"`{key}`" in options, f"README's {name} row does not name {key}"
            for key, number in re.findall(r"`(\w+)` \((\d+)", options):
                assert float(number) == entry.default(key), f"README: {name} {key} ({number})"


# --- plugins ---------------------------------------------------------------------------------


def readme_example(marker: str) -> str:
    readme = (REPO / "README.md").read_text()
    after = readme.split(f"<!-- example: {marker} -->\n", 1)[1]
    return re.match(r"```\w+\n(.*?)```", after, re.S).group(1)


def install(site, module: str, source: str, project: dict) -> None:
    """A plugin distribution installed as importlib.metadata finds one (a .dist-info folder)."""
    (site / f"{module}.py").write_text(source)
    name, version = project["name"], project["version"]
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    text = ""
    for group, points in project["entry-points"].items():
        text += f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items())
    (info / "entry_points.txt").write_text(text)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for plugin distributions, and a registry that reads it."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    fresh = PowerSourceRegistry(power.SOURCES.packages)
    monkeypatch.setattr(power, "SOURCES", fresh)
    yield folder
    for module in [m for m in sys.modules if m.startswith("edgebench_file_watts")]:
        del sys.modules[module]


def test_the_readme_s_host_meter_plugin_is_registered_checked_and_samples(site, tmp_path):
    from edgebench.agent.powerlog import METER_LOG
    from edgebench.power.host import host_meter
    from edgebench.settings import ConfigError

    project = tomllib.loads(readme_example("power source plugin pyproject"))["project"]
    install(site, "edgebench_file_watts", readme_example("power source plugin module"), project)
    assert "file-watts" in power.SOURCES.names()
    assert power.SOURCES.origins["file-watts"] == "edgebench-file-watts 0.1"
    test_every_registered_source_honours_the_contract("file-watts")
    assert power.is_host_meter({"source": "file-watts"})
    assert "file-watts" in power.host_sources()  # a microcontroller board may use it

    schema = {"properties": {"power": yaml.safe_load("properties: {source: {type: string}}")}}
    power.fill_device_schema(schema)
    assert "file-watts" in schema["properties"]["power"]["properties"]["source"]["enum"]
    with pytest.raises(ConfigError, match="source 'file-watts' needs path"):
        power.check_source({"source": "file-watts"}, "bench")
    with pytest.raises(ConfigError, match="port is not an option of source 'file-watts'"):
        power.check_source({"source": "file-watts", "path": "/x", "port": "/dev/x"}, "bench")

    readout = tmp_path / "watts"
    readout.write_text("4.5")
    settings = power.power_settings({"source": "file-watts", "path": str(readout)})
    assert settings["interval_ms"] == 200
    power.check_source(settings, "bench")
    with host_meter(settings, tmp_path / "meter") as meter_log:
        time.sleep(1.0)
    records = [json.loads(line) for line in (tmp_path / "meter" / METER_LOG).read_text().split()]
    assert meter_log == tmp_path / "meter" / METER_LOG
    samples = [r for r in records if r["type"] == "sample"]
    assert records[0]["source"] == "file-watts" and records[0]["clock"] == "host-wall"
    assert len(samples) >= 3 and {s["watts"] for s in samples} == {4.5}
    assert records[-1]["status"] == "ok"


ON_BOARD_PLUGIN = """
from edgebench.agent.power_common import PowerSource


class Thermal(PowerSource):
    name = "thermal-guess"
    description = "an on-board source in a plugin"
    on_board = True
    kind = "power"
    default_interval_ms = 100
"""


def test_an_on_board_plugin_is_a_board_source_on_the_host_and_in_the_agent_s_registry(site):
    """It is read on the board (test_runtimes.py stages and runs one); the agent's registry
    keeps only on-board sources, and a plugin that does not say where it is read is refused."""
    from edgebench.agent import power_sources

    project = {
        "name": "edgebench-thermal",
        "version": "2.0",
        "entry-points": {GROUPS["power_sources"]: {"thermal-guess": "edgebench_thermal:Thermal"}},
    }
    install(site, "edgebench_thermal", ON_BOARD_PLUGIN, project)
    agent_side = PowerSourceRegistry([power_sources.__name__], on_board_only=True)
    try:
        assert power.is_on_board({"source": "thermal-guess"})
        assert power.SOURCES.origins["thermal-guess"] == "edgebench-thermal 2.0"
        assert "thermal-guess" in agent_side.names()
        assert set(agent_side.names()) <= set(power.SOURCES.on_board())
        assert agent_side.plugin_modules()["edgebench_thermal"][1] == "edgebench-thermal 2.0"
        (site / "edgebench_thermal.py").write_text(ON_BOARD_PLUGIN.replace("True", "None"))
        sys.modules.pop("edgebench_thermal", None)
        undecided = PowerSourceRegistry(power.SOURCES.packages)
        with pytest.raises(PluginError, match=r"edgebench-thermal 2\.0 does not say where"):
            undecided.names()
    finally:
        sys.modules.pop("edgebench_thermal", None)


def test_a_plugin_taking_a_built_in_name_is_refused(site):
    source = ON_BOARD_PLUGIN.replace('"thermal-guess"', '"rapl"').replace("True", "False")
    project = {
        "name": "edgebench-clash",
        "version": "1.0",
        "entry-points": {GROUPS["power_sources"]: {"rapl": "edgebench_clash:Thermal"}},
    }
    install(site, "edgebench_clash", source, project)
    try:
        with pytest.raises(PluginError, match=r"two power sources are named 'rapl'.*clash 1\.0"):
            power.SOURCES.names()
    finally:
        sys.modules.pop("edgebench_clash", None)
