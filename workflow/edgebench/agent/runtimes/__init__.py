"""Agent runtimes: one class per runtime family, behind a two-call interface (`prepare()` loads
and initialises, `infer()` runs).

A runtime is one module of this package (or of a plugin distribution, entry-point group
`edgebench.runtimes`) defining a `Runtime` subclass that declares everything the rest of
edgebench asks about it: its `name` (the runtime family a format names), the `modules` it can
import in order of preference, the model files it loads, the device-profile options it takes (a
JSON Schema fragment per key, with defaults) and a line for the README. The device schema's
`runtimes` mapping and option keys (`fill_device_schema`), the board probe, the options the host
sends and the README's runtime table are derived from these declarations; nothing else lists
runtimes. Importing a runtime's module imports no vendor library: that happens in its
constructor, when a run needs it.

Plugin runtimes ship to the board with the staged agent (agent/registry.py).
"""

from __future__ import annotations

import importlib
import inspect
import json

import numpy as np

from ..registry import BUILT_IN, PluginError, Registry

GROUP = "edgebench.runtimes"  # edgebench.plugins.GROUPS["runtimes"] (the agent cannot import it)


class RuntimeUnavailable(RuntimeError):
    """No module that can run this format is installed on the device."""


class Runtime:
    """One runtime family. Declared on the class (read by the host without instantiating):"""

    name: str  # the runtime family: what a format's `runtime` names
    # top-level module -> what the runtime imports from it ("package.module:attribute", or a
    # module path alone), in order of preference: the probe tries these, a profile's
    # `runtimes` entry must be one of them
    modules: dict[str, str]
    suffixes: tuple[str, ...]  # the model files it loads, by suffix (".tflite")
    # device-profile key -> JSON Schema of its value, with "default" where it has one; the
    # constructor takes each as a keyword argument (and `precision`, the format's, if it names it)
    options: dict[str, dict] = {}
    summary: str  # how it runs a model, one Markdown line for the README's runtime table
    records: str  # what details() records, one Markdown line
    imports: tuple[str, ...] = ()  # other vendor modules it imports when loaded (cuda-python)

    # set by the constructor: the module it runs with and its version
    module = ""
    version = ""

    def prepare(self, model_path: str, batch: int, threads: int) -> None:
        """Load for `batch` inputs, computing on exactly `threads` threads."""
        raise NotImplementedError

    def input_spec(self) -> tuple[tuple[int, ...], np.dtype, tuple[float, int] | None]:
        """(shape with batch, dtype, (scale, zero_point) for quantized inputs or None)."""
        raise NotImplementedError

    def feed(self, batch: np.ndarray) -> None:
        raise NotImplementedError

    def infer(self) -> None:
        """Run the fed batch: the only call the timing loop times."""
        raise NotImplementedError

    def output(self) -> np.ndarray:
        """The first output, dequantized to float32."""
        raise NotImplementedError

    def details(self) -> dict:
        """What the run header records beside name and version: the accelerator, plugin or
        providers really used (after prepare)."""
        return {}


def import_first(runtime: type[Runtime], wanted: str | None = None) -> tuple[str, object]:
    """(top-level module name, what `runtime.modules` says to import from it) of the first of
    the runtime's modules that imports; only `wanted` (the device profile's `runtimes` entry)
    when one is named."""
    names = list(runtime.modules)
    if wanted is not None:
        if wanted not in runtime.modules:
            raise RuntimeUnavailable(f"the agent cannot drive {wanted!r} for this format")
        names = [wanted]
    for name in names:
        path, _, attribute = runtime.modules[name].partition(":")
        try:
            module = importlib.import_module(path)
        except ImportError:
            continue
        return name, getattr(module, attribute) if attribute else module
    tried = ", ".join(runtime.modules[name].partition(":")[0] for name in names)
    raise RuntimeUnavailable(f"no runtime installed for this format (tried {tried})")


def default(runtime: type[Runtime], key: str):
    """The declared default of one of a runtime's options (None: it has none)."""
    return runtime.options[key].get("default")


class RuntimeRegistry(Registry):
    """The built-ins, and the plugins: entry points on the host, the staged modules on a board."""

    def built_ins(self) -> list[type[Runtime]]:
        """The runtimes that ship with edgebench, whatever the plugins do."""
        return [entry for entry, _ in self._built_in()]


REGISTRY = RuntimeRegistry("runtime", __name__, Runtime, GROUP, ships=True)


def load_runtime(runtime: str, wanted: str | None = None, options: dict | None = None) -> Runtime:
    """The runtime of a format's runtime family; `wanted` names the module the profile asks for,
    `options` the job's settings (the profile's keys the runtime declares, and the format's
    precision), its declared defaults filled in."""
    try:
        runtime_class = REGISTRY.entries().get(runtime)
    except PluginError as error:  # a staged plugin that does not import on this board
        raise RuntimeUnavailable(str(error)) from None
    if runtime_class is None:
        raise RuntimeUnavailable(f"the agent has no runtime for runtime family {runtime!r}")
    return runtime_class(wanted, **keywords(runtime_class, options or {}))


def keywords(runtime_class: type[Runtime], options: dict) -> dict:
    """The constructor's keyword arguments from a job's runtime options."""
    found = {}
    for key, schema in runtime_class.options.items():
        value = options.get(key, schema.get("default"))
        if value is not None:
            found[key] = value
    parameters = inspect.signature(runtime_class.__init__).parameters
    if "precision" in parameters and options.get("precision") is not None:
        found["precision"] = options["precision"]
    return found


# -- on the host: what the registry gives the schema, the stage and the README -------------------


def fill_device_schema(schema: dict) -> None:
    """Complete the device profile schema: `runtimes` (per runtime family, one of its modules)
    and every runtime's option keys. A declared default is not written into the schema (the
    validator would fill it into every profile); the agent applies it (`keywords`)."""
    properties = schema["properties"]
    entries = REGISTRY.entries()
    properties["runtimes"]["properties"] = {
        name: {
            "description": f"The module for {name} formats (unset: the first that imports).",
            "type": "string",
            "enum": list(entry.modules),
        }
        for name, entry in entries.items()
    }
    declared_by: dict[str, str] = {}
    for name, entry in entries.items():
        for key, fragment in entry.options.items():
            rule = {k: v for k, v in fragment.items() if k != "default"}
            origin = f"the {name} runtime ({REGISTRY.origins[name]})"
            if key in declared_by and properties[key] != rule:
                raise PluginError(
                    f"{origin} declares the profile key {key!r}, which the "
                    f"{declared_by[key]} runtime declares otherwise; rename one of them"
                )
            if key in properties and key not in declared_by:
                raise PluginError(
                    f"{origin} declares the profile key {key!r}, which a device profile already "
                    f"has for something else; rename the option (e.g. {name}_{key})"
                )
            properties[key] = rule
            declared_by.setdefault(key, name)


def markdown() -> str:
    """The README's runtime table: every built-in runtime as it declares itself."""
    lines = [
        "| family | modules, in order of preference | model files | agent runtime | profile keys "
        "| recorded |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in REGISTRY.entries().items():
        if REGISTRY.origins[name] != BUILT_IN:
            continue
        keys = [
            f"`{key}`" + (f" (default `{json.dumps(s['default'])}`)" if "default" in s else "")
            for key, s in entry.options.items()
        ]
        cells = [
            f"`{name}`",
            ", ".join(f"`{module}`" for module in entry.modules),
            ", ".join(f"`{suffix}`" for suffix in entry.suffixes),
            entry.summary,
            ", ".join(keys) or "none",
            entry.records,
        ]
        lines.append(f"| {' | '.join(cells)} |")
    return "\n".join(lines)


def version_of(module_name: str) -> str:
    """A module's distribution version, else its __version__."""
    try:
        from importlib.metadata import version

        return version(module_name.replace("_", "-"))
    except Exception:
        return getattr(importlib.import_module(module_name), "__version__", "unknown")
