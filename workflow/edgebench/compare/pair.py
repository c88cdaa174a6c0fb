"""Two results compared end to end: both sides loaded, their rows compared, and the words that
describe the comparison; what the console script prints and the report's comparison section
shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from edgebench.compare.inputs import load
from edgebench.compare.output import settings_line
from edgebench.compare.significance import FACTOR
from edgebench.compare.verdicts import ACCURACY_TOLERANCE, POWER_FACTOR, compare, summary


@dataclass
class Comparison:
    frame: pd.DataFrame  # one row per device x workload x format x batch (verdicts.COLUMNS)
    old: str  # each side's table and raw-log folder, in words
    new: str
    settings: str  # what slower, faster and regressed mean here

    @property
    def summary(self) -> str:
        return summary(self.frame)

    @property
    def regressed(self) -> bool:
        return bool(self.frame["regressed"].any())


def compare_results(
    old: Path | str,
    new: Path | str,
    factor: float = FACTOR,
    accuracy_tolerance: float = ACCURACY_TOLERANCE,
    power_factor: float = POWER_FACTOR,
) -> Comparison:
    """OLD against NEW (results folders, project folders or table files); OSError or ValueError
    when either cannot be read."""
    old_results, new_results = load(old), load(new)
    frame = compare(
        old_results,
        new_results,
        factor=factor,
        accuracy_tolerance=accuracy_tolerance,
        power_factor=power_factor,
    )
    return Comparison(
        frame,
        old_results.describe(),
        new_results.describe(),
        settings_line(factor, accuracy_tolerance, power_factor),
    )
