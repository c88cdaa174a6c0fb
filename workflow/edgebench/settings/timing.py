"""Timing settings that contradict each other, named with the file each value came from.

A device's runs take the timing defaults, then the suite's `timing`, then the profile's; a
minimum above its maximum is refused at load saying which file set each of the two values.
"""

from __future__ import annotations

from dataclasses import asdict

from edgebench.agent.protocol import Timing
from edgebench.settings.errors import ConfigError

# (minimum, maximum): a window times at least the first and stops at the second
BOUNDS = (("min_s", "max_s"), ("min_runs", "max_runs"))


def check_timing(layers: list[tuple[str, dict]], subject: str) -> None:
    """`layers`: (file, its `timing` mapping), each over the ones before it."""
    value = asdict(Timing())
    source = dict.fromkeys(value, "the default")
    for where, timing in layers:
        for key, setting in (timing or {}).items():
            value[key], source[key] = setting, where
    problems = [
        f"{low} = {value[low]} ({source[low]}) is larger than {high} = {value[high]} "
        f"({source[high]})"
        for low, high in BOUNDS
        if value[low] > value[high]
    ]
    if problems:
        raise ConfigError(
            f"{subject}: the timing settings contradict each other: {'; '.join(problems)}. "
            "A window times at least min_s and min_runs and stops at max_s or max_runs: make "
            "each minimum at most its maximum (a profile's timing overrides its suite's)"
        )
