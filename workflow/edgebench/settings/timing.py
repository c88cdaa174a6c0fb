"""Timing settings that contradict each other, named with the file each value came from.

A device's runs take the timing defaults, then the suite's `timing`, then the profile's; a
minimum above its maximum is refused at load saying which file set each of the two values, and
so is a time budget (`budget_s`) that cannot be kept or would never stop a window.
"""

from __future__ import annotations

from dataclasses import asdict

from edgebench.agent.protocol import Timing
from edgebench.settings.errors import ConfigError

# (minimum, maximum): a window times at least the first and stops at the second
BOUNDS = (("min_s", "max_s"), ("min_runs", "max_runs"))


def check_timing(
    layers: list[tuple[str, dict]], subject: str, default_processes: tuple[int, ...] = (1,)
) -> None:
    """`layers`: (file, its `timing` mapping), each over the ones before it;
    `default_processes`: the process counts `processes: 0` gives the plan's workloads."""
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
    if value["budget_s"]:
        counts = (value["processes"],) if value["processes"] else default_processes
        budget_problem(value, source, counts, subject)


def budget_problem(value: dict, source: dict, counts: tuple[int, ...], subject: str) -> None:
    """A budget that cannot be kept (a process's share below min_s) or that never stops a
    window (every share at or above max_s, or target_ci 0, which stops every window at min_s)
    is refused: a key either changes what runs or is not accepted."""
    budget, most = value["budget_s"], max(counts)
    named = f"budget_s = {budget:g} ({source['budget_s']})"
    share = budget / most
    them = f"{most} process{'es' if most > 1 else ''}"
    if share < value["min_s"]:
        why = (
            f"{named} gives each of {them} {share:.3g} s, less than min_s = "
            f"{value['min_s']} ({source['min_s']}): raise budget_s to at least "
            f"{most * value['min_s']:g} or lower min_s"
        )
    elif share >= value["max_s"]:
        why = (
            f"{named} never stops a window: its share for {them}, {share:.3g} s, is "
            f"at or above max_s = {value['max_s']} ({source['max_s']}); lower budget_s below "
            f"{most * value['max_s']:g} or remove it"
        )
    elif not value["target_ci"]:
        why = (
            f"{named} never stops a window: target_ci = 0 ({source['target_ci']}) stops every "
            "window at min_s; set a target_ci or remove budget_s"
        )
    else:
        return
    raise ConfigError(f"{subject}: the timing budget is refused: {why}")
