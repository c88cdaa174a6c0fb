"""Power sources: the samplers a device profile's `power.source` chooses from.

On-board sources are read by the agent on the device (``edgebench.agent.power_sources``:
tegrastats, INA3221, RAPL); meters are read by the host (``edgebench.power.meters``: RDTech
UM-series, a serial line meter, a command). Both write the one power log format
(``edgebench.agent.powerlog``); ``integrate`` aligns the samples with the timed windows and
integrates them. Adding a source is a class in one of those modules plus one registry line
there and its options below; a profile naming an unknown source or an option its source does
not take is refused when the workflow loads, never ignored.
"""

from __future__ import annotations

from typing import Protocol

ON_BOARD = ("tegrastats", "ina3221", "rapl")
HOST_METERS = ("um24c", "um25c", "um34c", "serial-meter", "command")
COMMON_OPTIONS = {"source", "idle_s", "min_samples"}
OPTIONS = {  # source -> the options it takes besides COMMON_OPTIONS
    "none": set(),
    "tegrastats": {"interval_ms", "rails", "command"},
    "ina3221": {"interval_ms", "rails", "root"},
    "rapl": {"interval_ms", "domains", "root"},
    "um24c": {"port", "baud", "interval_ms"},
    "um25c": {"port", "baud", "interval_ms"},
    "um34c": {"port", "baud", "interval_ms"},
    "serial-meter": {"port", "baud", "interval_ms"},
    "command": {"command", "interval_ms"},
}
REQUIRED = {"um24c": {"port"}, "um25c": {"port"}, "um34c": {"port"}, "serial-meter": {"port"},
            "command": {"command"}}  # fmt: skip
DEFAULT_INTERVAL_MS = {  # how often each source gives a new sample
    "tegrastats": 100,
    "ina3221": 20,
    "rapl": 100,
    "um24c": 500,
    "um25c": 500,
    "um34c": 500,
    "serial-meter": 100,
    "command": 1000,
}
DEFAULT_IDLE_S = 5.0
DEFAULT_MIN_SAMPLES = 10


class PowerSampler(Protocol):
    """One power source, on the board (agent) or read by the host (meter)."""

    source: str

    def describe(self) -> dict:
        """Header fields of its power log: clock, kind, interval_s, rails..."""

    def check(self) -> None:
        """Raise PowerUnavailable when it cannot be read here, saying what to do."""

    def start(self, emit) -> None:
        """Begin sampling in the background; emit(sample) for every sample."""

    def stop(self) -> None:
        """Stop, emitting every sample taken."""


def check_source(power: dict, device: str) -> None:
    """Refuse an unknown source, an option its source does not take, or a missing one."""
    from edgebench.settings import ConfigError

    source = power["source"]
    where = f"devices/{device}.yaml: power"
    if source not in OPTIONS:
        raise ConfigError(f"{where}: unknown source {source!r} (known: {', '.join(OPTIONS)})")
    allowed = COMMON_OPTIONS | OPTIONS[source] if source != "none" else {"source"}
    if extra := sorted(set(power) - allowed):
        raise ConfigError(
            f"{where}: {', '.join(extra)} is not an option of source {source!r} (its options: "
            f"{', '.join(sorted(allowed - {'source'})) or 'none'})"
        )
    if missing := sorted(REQUIRED.get(source, set()) - set(power)):
        raise ConfigError(f"{where}: source {source!r} needs {', '.join(missing)}")
    if source == "rapl" and (nested := nested_rapl_domains(power.get("domains", ["package"]))):
        raise ConfigError(
            f"{where}: domains {', '.join(nested)} are inside package (sub-zones "
            "intel-rapl:N:M of intel-rapl:N), whose energy already includes theirs: summing "
            "both counts it twice; keep package, or name only the sub-domains"
        )


RAPL_SUBDOMAINS = ("core", "uncore", "dram")  # RAPL sub-zones of a package zone


def nested_rapl_domains(domains: list[str]) -> list[str]:
    """The sub-domains listed beside a package domain (the agent also checks the real tree)."""
    if not any(str(name).startswith("package") for name in domains):
        return []
    return [name for name in domains if name in RAPL_SUBDOMAINS]


def power_settings(power: dict) -> dict | None:
    """What the agent and the host meter are told: the profile's options with defaults filled
    in; None without a source."""
    if power["source"] == "none":
        return None
    settings = {
        "interval_ms": DEFAULT_INTERVAL_MS[power["source"]],
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
    if power is None or power["source"] not in ON_BOARD:
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
    at load, as a board's is failed by the agent (never a run `ok` with empty power)."""
    from edgebench.agent.power_sources import SourceMissing, open_source
    from edgebench.settings import ConfigError

    settings = power_settings(power)
    if settings is None or settings["source"] != "tegrastats":
        return
    try:
        open_source(settings).check()
    except SourceMissing as error:
        raise ConfigError(f"devices/{device}.yaml: power: {error}") from None


POWER_MAX_RUNS = 1_000_000  # a microsecond block needs ~10^5 runs to fill a power window


def lengthened(timing: dict, power: dict | None) -> dict:
    """Timing whose every window holds min_samples samples of the source (plus one interval,
    so the edges are covered): min_s raised, max_s with it where it would be below, and
    max_runs raised so that a fast model's window is not cut before min_s."""
    if power is None or power.get("unavailable"):
        return timing
    min_s = max(timing.get("min_s", 0), window_needed_s(power))
    return {
        **timing,
        "min_s": min_s,
        "max_s": max(timing.get("max_s", min_s), min_s),
        "max_runs": max(timing.get("max_runs", 0), POWER_MAX_RUNS),
    }
