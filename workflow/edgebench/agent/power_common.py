"""What every on-board power source shares: the error that says a source cannot be read here,
the total-input-power rule of the Jetson rails, sample records, the polling thread of the sysfs
readers, and timed reads (DESIGN.md section 7)."""

from __future__ import annotations

import threading
import time
from pathlib import Path


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
