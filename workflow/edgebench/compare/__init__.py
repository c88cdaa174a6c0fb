"""Run-to-run comparison: ``edgebench compare OLD NEW`` (README, "Comparing runs").

Rows of the two result tables are matched by device, workload, format and batch. For each pair:

- latency: the ratio of medians (new / old) and a verdict, decided as asv decides it. A change is
  *significant* when a two-sided Mann-Whitney U test on the raw samples gives p < 0.002 (used only
  where the sample sizes allow such a p-value at all), else when the two medians' 99% intervals do
  not overlap; without raw samples (a table file alone) the table's 95% intervals are compared
  instead. The verdict is ``slower`` or ``faster`` only when the change is significant AND the
  ratio is beyond ``factor`` (1.10 by default) in that direction; otherwise ``no significant
  change``. A row that was ok and is now failed or unsupported is a regression too.
- accuracy: top-1 lower by more than ``accuracy_tolerance`` (absolute) is a regression.
- power: ``power_w`` higher by more than ``power_factor`` is a regression (both rows need it).
- notes: device facts, runtime, threads or model file that differ between the two runs.

``compare(old, new)`` returns the comparison as a DataFrame; ``main()`` is the console script.

The package: ``significance`` (the U test, the interval tests, the latency verdict), ``inputs``
(results folders, tables and raw logs), ``verdicts`` (matching rows, ratios, verdicts, notes),
``output`` (the text table, comparison.csv and .html), ``pair`` (two results loaded and compared,
as the console script and the workflow's report with ``--config baseline=PATH`` use them) and
``cli`` (the console script).
"""

from edgebench.compare.cli import main, parser
from edgebench.compare.inputs import KEYS, RUN_KEYS, Results, load, locate, read_table
from edgebench.compare.output import html_page, settings_line, text_table, write
from edgebench.compare.pair import Comparison, compare_results
from edgebench.compare.significance import (
    FACTOR,
    FASTER,
    INTERVAL_LEVEL,
    MANN_WHITNEY,
    P_THRESHOLD,
    SAME,
    SAMPLE_INTERVALS,
    SLOWER,
    TABLE_INTERVALS,
    Difference,
    is_different,
    latency_verdict,
    mann_whitney_p,
    min_p_value,
    overlap,
)
from edgebench.compare.verdicts import (
    ACCURACY_TOLERANCE,
    COLUMNS,
    HEADER_FACTS,
    NS_PER_MS,
    POWER_FACTOR,
    TABLE_FACTS,
    compare,
    summary,
)

__all__ = [
    "ACCURACY_TOLERANCE",
    "Comparison",
    "COLUMNS",
    "FACTOR",
    "FASTER",
    "HEADER_FACTS",
    "INTERVAL_LEVEL",
    "KEYS",
    "MANN_WHITNEY",
    "NS_PER_MS",
    "P_THRESHOLD",
    "POWER_FACTOR",
    "RUN_KEYS",
    "SAME",
    "SAMPLE_INTERVALS",
    "SLOWER",
    "TABLE_FACTS",
    "TABLE_INTERVALS",
    "Difference",
    "Results",
    "compare",
    "compare_results",
    "html_page",
    "is_different",
    "latency_verdict",
    "load",
    "locate",
    "main",
    "mann_whitney_p",
    "min_p_value",
    "overlap",
    "parser",
    "read_table",
    "settings_line",
    "summary",
    "text_table",
    "write",
]
