"""Plugin registries: one per extension point (transport, format, runtime, power source).

An entry is a class with a `name`, a subclass of its extension point's base class, which
declares everything the rest of the code asks about it (options, capabilities). A registry
finds the built-in entries in the modules of one package (every module there: a new built-in
is one new module, listed nowhere else) and the others through installed distributions' entry
points (group `edgebench.<points>`), as pytest and Snakemake's executor plugins find theirs.
A plugin that fails to import, is not an entry of its kind, or takes a name already taken is
an error naming its distribution and the fix, never skipped.

Standard library only: the agent uses it on the device.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import pkgutil
from types import ModuleType

BUILT_IN = "edgebench"  # the origin of the entries that ship with edgebench


class PluginError(RuntimeError):
    """A plugin that cannot be used: the message names its distribution and the fix."""


class Registry:
    """The entries of one extension point, by name, loaded on first use."""

    def __init__(self, kind: str, package: str, base: type, group: str | None = None):
        self.kind = kind  # what an entry is, for messages: "power source"
        self.package = package  # where the built-in entries are, one or more per module
        self.base = base
        self.group = group  # the entry-point group of plugin distributions
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
