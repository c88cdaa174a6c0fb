"""Plugin registries: one per extension point (transport, format, runtime, power source).

An entry is a class with a `name`, a subclass of its extension point's base class, which
declares everything the rest of the code asks about it (options, capabilities). A registry
finds the built-in entries in the modules of one package (every module there: a new built-in
is one new module, listed nowhere else) and the others through installed distributions' entry
points (group `edgebench.<points>`), as pytest and Snakemake's executor plugins find theirs.
A plugin that fails to import, is not an entry of its kind, or takes a name already taken is
an error naming its distribution and the fix, never skipped.

The agent's registries (runtimes, on-board power sources) ship their plugins to the board: the
staged agent (`edgebench_agent/`) has no installed distribution, so the host copies the module
file of each of their plugin entries into `edgebench_agent/plugins/` with `origins.json` (module
-> distribution) (edgebench.devices.staging), and on the board such a registry reads that folder
instead of entry points. A plugin module imports edgebench's agent as on the host
(`from edgebench.agent.runtimes import Runtime`): on the board that name is the staged agent.

Standard library only: the agent uses it on the device.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import json
import pkgutil
import sys
import types
from pathlib import Path
from types import ModuleType

BUILT_IN = "edgebench"  # the origin of the entries that ship with edgebench
PLUGINS = "plugins"  # the staged agent's folder of plugin modules (written by the host)
ORIGINS = "origins.json"  # in it: staged module name -> "distribution version"
AGENT = __name__.rsplit(".", 1)[0]  # edgebench.agent on the host, edgebench_agent on the board
ON_BOARD = AGENT.split(".")[0] != "edgebench"


class PluginError(RuntimeError):
    """A plugin that cannot be used: the message names its distribution and the fix."""


class Registry:
    """The entries of one extension point, by name, loaded on first use."""

    def __init__(
        self, kind: str, package: str, base: type, group: str | None = None, ships: bool = False
    ):
        self.kind = kind  # what an entry is, for messages: "power source"
        self.package = package  # where the built-in entries are, one or more per module
        self.base = base
        self.group = group  # the entry-point group of plugin distributions
        self.ships = ships  # its plugins are staged with the agent (read from there on a board)
        self._entries: dict[str, type] | None = None
        self.origins: dict[str, str] = {}  # name -> "edgebench" or "distribution version"

    def entries(self) -> dict[str, type]:
        if self._entries is None:
            entries: dict[str, type] = {}
            for entry, origin in [*self._built_in(), *self._plugins()]:
                if entry.name in entries and entries[entry.name] is not entry:
                    raise PluginError(
                        f"two {self.kind}s are named {entry.name!r}: {self.origins[entry.name]}'s "
                        f"{qualified(entries[entry.name])} and {origin}'s {qualified(entry)}; "
                        "rename the plugin's entry or uninstall one of them"
                    )
                entries[entry.name] = entry
                self.origins[entry.name] = origin
            self._entries = entries
        return self._entries

    def names(self) -> list[str]:
        return list(self.entries())

    def get(self, name: str) -> type:
        entries = self.entries()
        if name not in entries:
            raise KeyError(f"unknown {self.kind} {name!r} (known: {', '.join(entries)})")
        return entries[name]

    def _built_in(self) -> list[tuple[type, str]]:
        package = importlib.import_module(self.package)
        found = []
        for module in pkgutil.iter_modules(package.__path__):
            if not module.name.startswith("_"):
                loaded = importlib.import_module(f"{self.package}.{module.name}")
                found += [(entry, BUILT_IN) for entry in entries_in(loaded, self.base)]
        return found

    def _plugins(self) -> list[tuple[type, str]]:
        if self.ships and ON_BOARD:
            return staged_entries(self.kind, self.base)
        if self.group is None:
            return []
        found = []
        for point in importlib.metadata.entry_points(group=self.group):
            origin = distribution_of(point)
            try:
                loaded = point.load()
            except Exception as error:  # any failure of a third party's import
                raise PluginError(
                    f"the {self.kind} plugin {point.name!r} ({point.value}) of {origin} cannot "
                    f"be imported: {type(error).__name__}: {error}. Fix it, or uninstall it: "
                    f"pip uninstall {origin.split()[0]}"
                ) from error
            entries = entries_in(loaded, self.base) if inspect.ismodule(loaded) else [loaded]
            for entry in entries:
                if not (inspect.isclass(entry) and issubclass(entry, self.base)):
                    raise PluginError(
                        f"the {self.kind} plugin {point.name!r} of {origin} gives {entry!r}, "
                        f"not a subclass of {qualified(self.base)}"
                    )
                if not isinstance(getattr(entry, "name", None), str) or not entry.name:
                    raise PluginError(
                        f"the {self.kind} plugin {point.name!r} of {origin}: {qualified(entry)} "
                        "has no name (a class attribute `name`)"
                    )
                found.append((entry, origin))
        return found

    def plugin_modules(self) -> dict[str, tuple[Path, str]]:
        """Staged module name -> (source file, origin) of each plugin entry's module: what the
        host stages into the agent's plugins folder (only for a registry that ships)."""
        found = {}
        for name, entry in self.entries().items():
            origin = self.origins[name]
            if origin == BUILT_IN or not self.ships:
                continue
            source = inspect.getsourcefile(sys.modules[entry.__module__])
            if source is None or Path(source).name == "__init__.py":
                raise PluginError(
                    f"the {self.kind} plugin {name!r} of {origin} is defined in "
                    f"{entry.__module__}, which is not one module file: the agent ships a "
                    f"{self.kind} plugin to the board as one .py file"
                )
            found[entry.__module__.replace(".", "_")] = (Path(source), origin)
        return found


# -- on the board: the plugin modules the host staged --------------------------------------------


def staged_entries(kind: str, base: type) -> list[tuple[type, str]]:
    """(entry, origin) of every `base` subclass in the staged agent's plugins folder, each
    module imported as the host staged it; one that fails to import is a PluginError naming
    its distribution."""
    folder = Path(sys.modules[AGENT].__file__).parent / PLUGINS
    if not folder.is_dir():
        return []
    origins_file = folder / ORIGINS
    origins = json.loads(origins_file.read_text()) if origins_file.exists() else {}
    alias_agent()
    found = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        origin = origins.get(path.stem, f"the staged module {path.name}")
        try:
            module = importlib.import_module(f"{AGENT}.{PLUGINS}.{path.stem}")
        except Exception as error:  # any failure of a third party's module
            raise PluginError(
                f"the plugin module {path.stem} of {origin} cannot be imported on this device "
                f"(loading {kind}s): {type(error).__name__}: {error}. A plugin module the agent "
                "ships imports only the standard library, numpy and edgebench.agent at its top "
                "(a runtime's vendor library when it is loaded)"
            ) from error
        found += [(entry, origin) for entry in entries_in(module, base)]
    return found


def alias_agent() -> None:
    """Make `edgebench.agent` and its loaded modules, the imports a plugin module makes on the
    host, name this staged agent in this process; nothing where the host's edgebench is loaded."""
    loaded = sys.modules.get("edgebench")
    if loaded is not None and not getattr(loaded, "_staged_agent_alias", False):
        return
    if loaded is None:
        loaded = sys.modules["edgebench"] = types.ModuleType("edgebench")
        loaded.__path__ = []  # nothing else of the host's package is here
        loaded._staged_agent_alias = True
    loaded.agent = sys.modules[AGENT]
    for name, module in list(sys.modules.items()):
        if name == AGENT or name.startswith(f"{AGENT}."):
            sys.modules[f"edgebench.agent{name[len(AGENT) :]}"] = module


def entries_in(module: ModuleType, base: type) -> list[type]:
    """The entries a module defines: subclasses of `base` with a name of their own."""
    return [
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, base)
        and value is not base
        and value.__module__ == module.__name__
        and isinstance(value.__dict__.get("name"), str)
    ]


def distribution_of(point: importlib.metadata.EntryPoint) -> str:
    dist = getattr(point, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else f"the module {point.module}"


def qualified(entry: type) -> str:
    return f"{entry.__module__}.{entry.__qualname__}"


def contract_problems(entry: type, base: type) -> list[str]:
    """What `entry` does not honour of `base`'s interface: a method `base` declares that it
    lacks or takes other parameters for, or a declared attribute (annotated on `base`) that it
    leaves unset."""
    problems = []
    for name in vars(base):
        declared = getattr(base, name)
        if name.startswith("_") or not callable(declared) or inspect.isclass(declared):
            continue
        own = getattr(entry, name, None)
        if not callable(own):
            problems.append(f"{qualified(entry)} has no method {name}")
            continue
        wanted = list(inspect.signature(declared).parameters)
        given = list(inspect.signature(own).parameters)
        if given != wanted:
            problems.append(
                f"{qualified(entry)}.{name} takes ({', '.join(given)}), the interface "
                f"({', '.join(wanted)})"
            )
    for name in inspect.get_annotations(base):
        if getattr(entry, name, None) is None and name not in getattr(base, "OPTIONAL", ()):
            problems.append(f"{qualified(entry)} does not set {name}")
    return problems
