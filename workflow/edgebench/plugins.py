"""The extension points: one registry each (edgebench.agent.registry), and what each adds to
the config schemas.

A transport, a format's converter, an agent runtime or a power source is one class in one
module of its registry's package, or in a plugin distribution that declares it under the
entry-point group of its kind. Nothing else in edgebench names the built-in entries: the
schemas' enums and option rules are filled in from the registries when a file is validated
(`SCHEMA_FILLERS`, used by edgebench.settings.files.schema_path), and the checks, tables and
labels ask the registries.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

# entry-point groups of plugin distributions, one per extension point
GROUPS = {
    "transports": "edgebench.transports",
    "formats": "edgebench.formats",
    "runtimes": "edgebench.runtimes",
    "power_sources": "edgebench.power_sources",
}

# schema file -> functions that complete it from a registry (each edits the loaded schema),
# as "module:function" (imported when a file is validated: no import cycle with the registries)
SCHEMA_FILLERS: dict[str, list[str | Callable[[dict], None]]] = {
    "device.schema.yaml": [
        "edgebench.devices.transport:fill_device_schema",
        "edgebench.agent.runtimes:fill_device_schema",
        "edgebench.power:fill_device_schema",
    ],
    "suite.schema.yaml": ["edgebench.convert.interface:fill_suite_schema"],
}


def schema_filler(filler: str | Callable[[dict], None]) -> Callable[[dict], None]:
    if callable(filler):
        return filler
    module, _, function = filler.partition(":")
    return getattr(importlib.import_module(module), function)
