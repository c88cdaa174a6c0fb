"""Power sources: the samplers a device profile's `power.source` chooses from, one registry.

A source is one `PowerSource` subclass (edgebench.agent.power_common) in one module: on-board
sources, read by the agent on the device, in ``edgebench/agent/power_sources/`` (standard
library only); meters the host reads in ``edgebench/power/meters/``; host meters of other
packages through the entry-point group ``edgebench.power_sources``. `SOURCES` finds them all;
everything else (the schema's enum and option rules, `check_source`, the defaults, which side
reads a source, the serial boards' meters) asks it. Both write the one power log format
(``edgebench.agent.powerlog``); ``integrate`` aligns the samples with the timed windows and
integrates them. A profile naming an unknown source or an option its source does not take is
refused when the workflow loads, never ignored.
"""

from __future__ import annotations

import copy

from edgebench.agent.power_common import COMMON_OPTIONS, PowerSource, PowerSourceRegistry

NO_SOURCE = "none"  # a profile without power
SOURCES = PowerSourceRegistry(["edgebench.agent.power_sources", "edgebench.power.meters"])
DEFAULT_IDLE_S = COMMON_OPTIONS["idle_s"]["default"]
DEFAULT_MIN_SAMPLES = COMMON_OPTIONS["min_samples"]["default"]


def source_of(power: dict | None) -> type[PowerSource] | None:
    """The class of the profile's (or job's) source; None for none or no power."""
    if power is None or power["source"] == NO_SOURCE:
        return None
    return SOURCES.get(power["source"])


def is_host_meter(power: dict | None) -> bool:
    source = source_of(power)
    return source is not None and not source.on_board


def is_on_board(power: dict | None) -> bool:
    source = source_of(power)
    return source is not None and source.on_board


def host_sources() -> list[str]:
    """What a board that runs no Python (a microcontroller) can have: none, or a host meter."""
    return [NO_SOURCE, *SOURCES.host_meters()]


def check_source(power: dict, device: str) -> None:
    """Refuse an unknown source, an option its source does not take, a missing one, or what
    the source's own load checks find (RAPL domains nested in a package)."""
    from edgebench.settings import ConfigError

    source = power["source"]
    where = f"devices/{device}.yaml: power"
    known = [NO_SOURCE, *SOURCES.names()]
    if source not in known:
        raise ConfigError(f"{where}: unknown source {source!r} (known: {', '.join(known)})")
    entry = source_of(power)
    allowed = {"source", *entry.option_schemas()} if entry else {"source"}
    if extra := sorted(set(power) - allowed):
        raise ConfigError(
            f"{where}: {', '.join(extra)} is not an option of source {source!r} (its options: "
            f"{', '.join(sorted(allowed - {'source'})) or 'none'})"
        )
    if entry is None:
        return
    if missing := sorted(set(entry.required) - set(power)):
        raise ConfigError(f"{where}: source {source!r} needs {', '.join(missing)}")
    if problems := entry.load_problems(power):
        raise ConfigError(f"{where}: {'; '.join(problems)}")


def fill_device_schema(schema: dict) -> None:
    """Complete config/device.schema.yaml's `power` from the registry (SCHEMA_FILLERS): the
    source enum, every option's rule, and per source (if source is X) the rules of its own
    options. Which options a source takes and which it needs is check_source's, with messages
    that name the source. Defaults are left out: a profile is kept as written (validation
    would fill them in) and power_settings adds the source's defaults."""
    power = schema["properties"]["power"]
    properties = power.setdefault("properties", {})
    entries = SOURCES.entries()
    properties["source"] = {
        "description": "none, or one of: "
        + "; ".join(
            f"{name} ({entry.description})" if entry.description else name
            for name, entry in entries.items()
        ),
        "type": "string",
        "enum": [NO_SOURCE, *entries],
    }
    rules: dict[str, dict[str, dict]] = {}  # option -> source -> its rule there
    for name, entry in entries.items():
        for key, rule in entry.option_schemas().items():
            rules.setdefault(key, {})[name] = without_defaults(rule)
    for key, by_source in rules.items():
        distinct = {repr(rule): rule for rule in by_source.values()}
        if len(distinct) == 1:  # one rule wherever it is taken
            properties[key] = copy.deepcopy(next(iter(distinct.values())))
        else:  # each source's own rule, in its `then` below
            said: dict[str, list[str]] = {}
            for source, rule in by_source.items():
                said.setdefault(rule.get("description", ""), []).append(source)
            described = (f"{', '.join(sources)}: {text}" for text, sources in said.items())
            properties[key] = {"description": " ".join(described)}
    power["allOf"] = [
        *power.get("allOf", []),
        *(
            {
                "if": {"properties": {"source": {"const": name}}, "required": ["source"]},
                "then": {
                    "properties": {k: copy.deepcopy(r[name]) for k, r in rules.items() if name in r}
                },
            }
            for name in entries
        ),
    ]


def without_defaults(rule: dict) -> dict:
    """A copy of an option's rule without its default (a copy each time: no YAML aliases)."""
    rule = copy.deepcopy(rule)
    rule.pop("default", None)
    return rule


def power_settings(power: dict) -> dict | None:
    """What the agent and the host meter are told: the profile's options with the interval,
    idle window and sample count defaults filled in (the source's other defaults it applies
    itself); None without a source."""
    source = source_of(power)
    if source is None:
        return None
    settings = {
        "interval_ms": source.default_interval_ms,
        "idle_s": DEFAULT_IDLE_S,
        "min_samples": DEFAULT_MIN_SAMPLES,
        **power,
    }
    if settings["idle_s"] > 0:  # 0 measures no idle window; any other is lengthened
        settings["idle_s"] = max(settings["idle_s"], window_needed_s(settings))
    return settings


def window_needed_s(power: dict) -> float:
    """The shortest window that holds min_samples samples plus one interval (the edges)."""
    return (power["min_samples"] + 1) * power["interval_ms"] / 1000


def on_this_machine(power: dict | None) -> dict | None:
    """An on-board source of a device that is this machine, checked here and now: where it
    cannot be read, `unavailable` says why (the agent records it; no idle window, no longer
    windows: the run is timed as without power)."""
    if not is_on_board(power):
        return power
    from edgebench.agent.power_sources import PowerUnavailable, SourceMissing, open_source

    try:
        open_source(power).check()
    except SourceMissing:
        raise  # check_local_program refused it at load
    except PowerUnavailable as error:
        return {**power, "unavailable": str(error)}
    return power


def check_local_program(power: dict, device: str) -> None:
    """An on-board source's program (tegrastats `command`) on this machine must exist: refused
    at load, as a board's is failed by the agent (never a run `ok` with empty power). A source
    that cannot be read here otherwise (PowerUnavailable) is not refused: the run is timed
    without power, saying why (on_this_machine)."""
    from edgebench.agent.power_sources import PowerUnavailable, SourceMissing, open_source
    from edgebench.settings import ConfigError

    settings = power_settings(power)
    if not is_on_board(settings):
        return
    try:
        open_source(settings).check()
    except SourceMissing as error:
        raise ConfigError(f"devices/{device}.yaml: power: {error}") from None
    except PowerUnavailable:
        pass


def lengthened(timing: dict, power: dict | None) -> dict:
    """Timing whose every window holds min_samples samples of the source (plus one interval,
    so the edges are covered): min_s raised, and max_s with it where it would be below (a
    window that max_runs ends sooner is held open untimed to min_s: agent/protocol.py)."""
    if power is None or power.get("unavailable"):
        return timing
    min_s = max(timing.get("min_s", 0), window_needed_s(power))
    return {
        **timing,
        "min_s": min_s,
        "max_s": max(timing.get("max_s", min_s), min_s),
    }
