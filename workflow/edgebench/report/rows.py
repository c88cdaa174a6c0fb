"""Selections of the result table that figures, digests and sections share."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from edgebench.report import theme


def require(data: pd.DataFrame, *columns: str) -> None:
    """Refuse a frame that lacks one of `columns` (a figure was handed something else)."""
    missing = [column for column in columns if column not in data.columns]
    if missing:
        raise ValueError(f"the data has no column {missing}; pass the result table")


def ok_rows(data: pd.DataFrame) -> pd.DataFrame:
    """Rows that ran, with a throughput."""
    require(data, "status", "throughput_ips")
    rows = data[data["status"].eq("ok") & data["throughput_ips"].notna()]
    return rows.copy()


def flags(values: pd.Series) -> pd.Series:
    """A boolean column with absent values as False."""
    return values.astype("boolean").fillna(False).astype(bool)


def model_rows(data: pd.DataFrame) -> pd.DataFrame:
    """Whole models (not NeurIO blocks), when the table says which is which."""
    if "group" in data.columns:
        return data[data["group"].eq("models")]
    return data


def ordered(values: Iterable) -> list[str]:
    """Distinct values as text, in order of first appearance."""
    return list(dict.fromkeys(str(v) for v in values))


def format_names(values: Iterable) -> list[str]:
    """Distinct formats in the report's format order."""
    return sorted({str(v) for v in values}, key=theme.format_order)
