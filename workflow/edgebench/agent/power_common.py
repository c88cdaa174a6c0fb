"""What every power source shares: the `PowerSource` base class (what a source declares), the
registry of sources, the error that says a source cannot be read here; and for the on-board
ones the total-input-power rule of the Jetson rails, sample records, the polling thread of the
sysfs readers, and timed reads (DESIGN.md section 7).

One registry spans both halves (`PowerSourceRegistry`): on-board sources are the modules of
the agent's `power_sources` package (standard library only: they run on the device), host
meters the modules of `edgebench.power.meters` (the host's; pyserial and the rest allowed).
The agent on the device builds it from its own package alone, so it knows only the on-board
sources; the host builds it from both packages and the `edgebench.power_sources` entry points.

Standard library only: the agent uses it on the device.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import time
from pathlib import Path

from .registry import BUILT_IN, PluginError, Registry, entries_in, qualified

KINDS = ("power", "energy")  # samples of instantaneous watts, or a cumulative joule counter
COMMON_OPTIONS = {  # options every source takes besides its own (and `source`)
    "idle_s": {
        "description": "Idle window before the run, for idle power (default 5; 0 measures none).",
        "type": "number",
        "minimum": 0,
        "default": 5.0,
    },
    "min_samples": {
        "description": "Fewest samples a timed window must hold for a figure (default 10).",
        "type": "integer",
        "minimum": 2,
        "default": 10,
    },
}

ROOT_OPTION = {
    "description": "Where sysfs is mounted on the board.",
    "type": "string",
    "default": "/sys",
}


class PowerSource:
    """One power source: a class with a `name` (the profile's `power.source`) that declares
    where it is read, what its samples are, how often, and its options; an instance (built
    from the profile's `power:` mapping, defaults filled in) samples it.

    - `on_board`: read by the agent on the device (True; its module in the agent's
      `power_sources` package, standard library only) or by the host (False: a meter).
    - `kind`: "power" (samples carry instantaneous watts) or "energy" (a cumulative joule
      counter, differenced over each window).
    - `default_interval_ms`, `min_interval_ms`: how often it gives a new sample unless told,
      and the shortest interval it can honour (0: the source sets its rate).
    - `options`: its own options besides `source`, `interval_ms`, `idle_s` and `min_samples`,
      each a JSON Schema fragment (with its `default` where it has one); `required`: those a
      profile must give.
    """

    name: str
    on_board: bool
    kind: str
    default_interval_ms: float
    min_interval_ms: float = 0
    options: dict = {}
    required: tuple = ()
    description: str = ""  # one line, for the schema and messages
    interval_note: str = "Sampling interval (ms)."  # what interval_ms means for it

    def __init__(self, options: dict):
        """`options`: the profile's `power:` mapping (edgebench.power.power_settings)."""

    @property
    def source(self) -> str:
        return self.name

    def describe(self) -> dict:
        """Header fields of its power log: source, clock, kind, interval_s, rails..."""
        raise NotImplementedError

    def check(self) -> None:
        """Raise PowerUnavailable when it cannot be read here, saying what to do (SourceMissing
        when the profile names a program that is not there: refused, not run without power)."""
        raise NotImplementedError

    def start(self, emit) -> None:
        """Begin sampling in the background; emit(sample) for every sample."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop (idempotent), every sample emitted by then."""
        raise NotImplementedError

    @classmethod
    def load_problems(cls, power: dict) -> list[str]:
        """What is wrong with the profile's `power:` mapping beyond its schema, found at load
        without the hardware (each a sentence); none by default."""
        return []

    @classmethod
    def option_schemas(cls) -> dict:
        """Every option it takes besides `source`: its own, interval_ms, idle_s, min_samples."""
        interval = {
            "description": cls.interval_note,
            "type": "number",
            "exclusiveMinimum": 0,
            "default": cls.default_interval_ms,
        }
        if cls.min_interval_ms:
            interval["minimum"] = cls.min_interval_ms
        return {"interval_ms": interval, **COMMON_OPTIONS, **cls.options}

    @classmethod
    def defaults(cls) -> dict:
        """The options' defaults: what a profile that leaves them out gets."""
        return {
            key: schema["default"]
            for key, schema in cls.option_schemas().items()
            if "default" in schema
        }

    @classmethod
    def default(cls, key: str):
        return cls.defaults().get(key)


GROUP = "edgebench.power_sources"  # edgebench.plugins.GROUPS["power_sources"] (agent-side name)


class PowerSourceRegistry(Registry):
    """The power sources of several packages (the agent's on-board ones, the host's meters)
    and of the `edgebench.power_sources` entry points. With `on_board_only` (the agent's own
    registry) it keeps the sources read on the board, and ships its plugins with the agent
    (agent/registry.py)."""

    def __init__(self, packages: list[str], on_board_only: bool = False):
        super().__init__("power source", packages[0], PowerSource, GROUP, ships=on_board_only)
        self.packages = list(packages)
        self.on_board_only = on_board_only

    def _built_in(self) -> list[tuple[type, str]]:
        found = []
        for name in self.packages:
            package = importlib.import_module(name)
            for module in pkgutil.iter_modules(package.__path__):
                if not module.name.startswith("_"):
                    loaded = importlib.import_module(f"{name}.{module.name}")
                    found += [(entry, BUILT_IN) for entry in entries_in(loaded, self.base)]
        return found

    def _plugins(self) -> list[tuple[type, str]]:
        found = super()._plugins()
        for entry, origin in found:
            if entry.on_board not in (True, False):
                raise PluginError(
                    f"the power source plugin {qualified(entry)} of {origin} does not say "
                    "where it is read: set on_board = True (the agent reads it on the board) "
                    "or False (a meter the host reads)"
                )
        if self.on_board_only:
            return [(entry, origin) for entry, origin in found if entry.on_board]
        return found

    def on_board(self) -> list[str]:
        return [name for name, entry in self.entries().items() if entry.on_board]

    def host_meters(self) -> list[str]:
        return [name for name, entry in self.entries().items() if not entry.on_board]


class PowerUnavailable(Exception):
    """The source cannot be read here; str(error) names what is missing and the fix."""


class SourceMissing(PowerUnavailable):
    """The program the profile names for its source is not on the board: the run fails (a
    configuration error), rather than running `ok` with empty power."""


# --- the board's total input power -----------------------------------------------------------

TOTAL_INPUT_RAILS = ("VDD_IN", "POM_5V_IN")  # already the total: never add their sub-rails
XAVIER_RAILS = ("GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V")  # AGX Xavier has no total rail
NO_TOTAL_RAIL = (
    "no total input rail (VDD_IN or POM_5V_IN) on this board: "
    "name the rails to sum in the profile's power.rails"
)
TOTAL_RULE = (
    "VDD_IN, else POM_5V_IN, else the sum of GPU, CPU, SOC, CV, VDDRQ, SYS5V (AGX Xavier), "
    "else none"
)


def total_rails(names, chosen: list[str] | None) -> list[str] | None:
    """The rails whose sum is the board's input power, or None when no rule applies."""
    if chosen:
        return list(chosen)
    for name in TOTAL_INPUT_RAILS:
        if name in names:
            return [name]
    if all(name in names for name in XAVIER_RAILS):
        return list(XAVIER_RAILS)
    return None


def total_power(rails: dict[str, float], chosen: list[str] | None) -> tuple[float | None, str]:
    """(total watts, "") or (None, why)."""
    summed = total_rails(rails, chosen)
    if summed is None:
        return None, NO_TOTAL_RAIL
    missing = [name for name in summed if name not in rails]
    if missing:
        seen = ", ".join(sorted(rails)) or "none"
        return None, f"rail(s) {', '.join(missing)} of power.rails not in this reading ({seen})"
    return sum(rails[name] for name in summed), ""


def power_sample(t_ns: int, rails: dict[str, float], chosen: list[str] | None) -> dict:
    watts, reason = total_power(rails, chosen)
    sample = {"t_ns": t_ns, "watts": watts, "rails": rails}
    if watts is None:
        sample["reason"] = reason
    return sample


def unconnected(name: str) -> bool:
    return name.strip().upper() == "NC"


# --- a polling thread (the sysfs sources) ----------------------------------------------------


class Poller:
    """Calls `read()` every interval on a daemon thread and emits what it returns."""

    def __init__(self, read, interval_s: float, name: str):
        self.read = read
        self.interval_s = interval_s
        self.name = name
        self.stopping = threading.Event()
        self.thread = None

    def start(self, emit) -> None:
        self.thread = threading.Thread(target=self._loop, args=(emit,), name=self.name, daemon=True)
        self.thread.start()

    def _loop(self, emit) -> None:
        next_at = time.monotonic()
        while True:
            emit(self.read())
            next_at += self.interval_s
            # A late reading starts the schedule anew rather than bursting to catch up.
            next_at = max(next_at, time.monotonic())
            if self.stopping.wait(next_at - time.monotonic()):
                return

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()


def read_number(path: Path) -> float:
    return float(path.read_text().strip())


def timed(read):
    """(t_ns at the middle of the read, the read's result)."""
    before = time.monotonic_ns()
    value = read()
    return (before + time.monotonic_ns()) // 2, value
