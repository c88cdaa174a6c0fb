"""The plugin registries' machinery: built-ins found by module, plugins by entry point, and
every way a plugin can be unusable is an error that names its distribution."""

from __future__ import annotations

import sys
import textwrap

import pytest
from edgebench.agent.registry import PluginError, Registry, contract_problems


class Sampler:
    """A toy extension point."""

    name: str
    unit: str

    def read(self, channel: int) -> float:
        raise NotImplementedError


def make_package(root, name: str, modules: dict[str, str]) -> str:
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for module, source in modules.items():
        (package / f"{module}.py").write_text(textwrap.dedent(source))
    return name


def make_distribution(root, name: str, entry_points: dict[str, str], group: str) -> None:
    """An installed distribution as importlib.metadata finds one: a .dist-info folder."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")


BUILT_IN = """
    from test_registry import Sampler

    class Helper(Sampler):  # no name of its own: a base for others, not an entry
        unit = "W"

    class Fast(Helper):
        name = "fast"

        def read(self, channel):
            return 1.0
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for module in [m for m in sys.modules if m.startswith(("ebt_builtin", "ebt_plugin"))]:
        del sys.modules[module]


def test_built_ins_are_every_module_of_the_package_and_plugins_come_by_entry_point(site):
    make_package(site, "ebt_builtin", {"fast": BUILT_IN, "_private": "raise SystemExit"})
    make_package(
        site,
        "ebt_plugin",
        {
            "slow": """
        from test_registry import Sampler

        class Slow(Sampler):
            name = "slow"
            unit = "W"

            def read(self, channel):
                return 2.0
    """
        },
    )
    make_distribution(site, "ebt-plugin", {"slow": "ebt_plugin.slow:Slow"}, "ebt.samplers")
    registry = Registry("sampler", "ebt_builtin", Sampler, "ebt.samplers")
    assert registry.names() == ["fast", "slow"]
    assert registry.origins == {"fast": "edgebench", "slow": "ebt-plugin 1.0"}
    assert registry.get("slow")().read(0) == 2.0
    with pytest.raises(KeyError, match="unknown sampler 'medium' \\(known: fast, slow\\)"):
        registry.get("medium")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("raise ImportError('no module named vendor_sdk')",
         "of ebt-plugin 1.0 cannot be imported: ImportError: no module named vendor_sdk. Fix it, "
         "or uninstall it: pip uninstall ebt-plugin"),
        ("class Slow:\n    name = 'slow'", "not a subclass of test_registry.Sampler"),
        ("from test_registry import Sampler\nclass Slow(Sampler):\n    pass", "has no name"),
        ("from test_registry import Sampler\nclass Slow(Sampler):\n    name = 'fast'",
         "two samplers are named 'fast': edgebench's ebt_builtin.fast.Fast and ebt-plugin 1.0's"),
    ],
)  # fmt: skip
def test_an_unusable_plugin_is_an_error_naming_its_distribution(site, source, message):
    make_package(site, "ebt_builtin", {"fast": BUILT_IN})
    make_package(site, "ebt_plugin", {"slow": source})
    make_distribution(site, "ebt-plugin", {"slow": "ebt_plugin.slow:Slow"}, "ebt.samplers")
    with pytest.raises(PluginError) as error:
        Registry("sampler", "ebt_builtin", Sampler, "ebt.samplers").entries()
    assert message in str(error.value)


def test_the_contract_names_a_missing_method_a_wrong_signature_and_an_unset_attribute():
    class Good(Sampler):
        name, unit = "good", "W"

        def read(self, channel):
            return 0.0

    class Bad(Sampler):
        name = "bad"

        def read(self, index, extra):
            return 0.0

    assert contract_problems(Good, Sampler) == []
    problems = contract_problems(Bad, Sampler)
    assert any("Bad.read takes (self, index, extra), the interface (self, channel)" in p
               for p in problems)  # fmt: skip
    assert any("does not set unit" in p for p in problems)
