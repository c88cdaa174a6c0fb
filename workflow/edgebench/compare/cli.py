"""The console script: ``edgebench compare OLD NEW`` (pyproject.toml's ``edgebench``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgebench.compare.output import html_page, text_table, write
from edgebench.compare.pair import compare_results
from edgebench.compare.significance import FACTOR, SAME
from edgebench.compare.verdicts import ACCURACY_TOLERANCE, POWER_FACTOR


def _ratio(text: str) -> float:
    value = float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: a ratio >= 1, e.g. 1.10 for 10%")
    return value


def _tolerance(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text}: an absolute top-1 difference >= 0, e.g. 0.01")
    return value


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="edgebench", description="edgebench tools")
    commands = main_parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "compare",
        help="compare two benchmark runs; exit 1 when something regressed",
        description=(
            "Match the rows of two result tables by device, workload, format and batch and say, "
            "for each, whether the new run is faster, slower or not significantly different, "
            "and whether accuracy or power regressed. Exit status: 0 nothing regressed, "
            "1 something regressed, 2 the inputs could not be read."
        ),
    )
    command.add_argument("old", help="results folder, project folder or table file (baseline)")
    command.add_argument("new", help="results folder, project folder or table file (candidate)")
    command.add_argument(
        "--factor",
        type=_ratio,
        default=FACTOR,
        help=f"smallest ratio of medians reported as slower/faster (default {FACTOR})",
    )
    command.add_argument(
        "--accuracy-tolerance",
        type=_tolerance,
        default=ACCURACY_TOLERANCE,
        help=f"largest top-1 drop (absolute) that is no regression (default {ACCURACY_TOLERANCE})",
    )
    command.add_argument(
        "--power-factor",
        type=_ratio,
        default=POWER_FACTOR,
        help=f"largest power_w ratio not called a regression (default {POWER_FACTOR})",
    )
    command.add_argument(
        "--out", type=Path, help="write comparison.csv and comparison.html in this folder"
    )
    command.add_argument(
        "--only-changed",
        action="store_true",
        help="print only rows that are not 'no significant change' (the files keep every row)",
    )
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result = compare_results(
            args.old,
            args.new,
            factor=args.factor,
            accuracy_tolerance=args.accuracy_tolerance,
            power_factor=args.power_factor,
        )
    except (OSError, ValueError) as error:
        print(f"edgebench compare: {error}", file=sys.stderr)
        return 2
    frame = result.frame
    shown = frame
    if args.only_changed:
        changed = (
            frame["verdict"].ne(SAME)
            | frame["regressed"]
            | frame["accuracy"].isin(["dropped", "improved"])
            | frame["power"].isin(["higher", "lower"])
        )
        shown = frame[changed]
    print(f"old: {result.old}")
    print(f"new: {result.new}")
    print(result.settings)
    print()
    print(text_table(shown))
    print()
    print(result.summary)
    if args.out is not None:
        csv_path, html_path = write(
            frame, args.out, html_page(frame, result.old, result.new, result.settings)
        )
        print(f"wrote {csv_path} and {html_path}")
    return 1 if result.regressed else 0
