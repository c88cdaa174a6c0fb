"""What the table says beyond timings and accuracy: power from the run's power log and why it
is absent, what the runtime really used, the vendor compiler's flags, and accuracy beyond the
suite's limit. The table builder (``tables.py``) calls these; each column is defined once, in
``columns.py``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from edgebench.power.integrate import MIN_SAMPLES, batch_power, load_trace
from edgebench.rawlog import RawRun

MEASURED_POWER_COLUMNS = [  # from the run's power log (edgebench.power.integrate)
    "power_w",
    "idle_power_w",
    "power_energy_j",
    "power_samples",
    "power_clock_uncertainty_ms",
    "power_note",
]


def run_power(run: RawRun) -> dict[int, dict]:
    """Per batch size, the power figures of the run's power log (power.integrate); {} without."""
    trace = load_trace(run.path.parent, run.header, run.end)
    if trace is None:
        return {}
    settings = run.header.get("power") or {}
    return batch_power(trace, settings.get("min_samples", MIN_SAMPLES))


def runtime_details(run: RawRun) -> dict:
    """What the runtime really used (the first batch record that says): OpenVINO's device and
    properties, ONNX Runtime's providers; whether an accelerator asked for fell back to the CPU."""
    details = next((r["runtime"] for r in run.batches if r.get("runtime")), None)
    if not details:
        return {}
    parts = []
    if details.get("device"):
        parts.append(f"device {details['device']}")
    for key, value in sorted((details.get("properties") or {}).items()):
        parts.append(f"{key} {value}")
    if details.get("providers"):
        parts.append("providers " + ", ".join(details["providers"]))
    if details.get("dla_core") is not None:
        parts.append(f"DLA core {details['dla_core']}")
    fallback = bool(details.get("fell_back_to_cpu"))
    return {"runtime_details": "; ".join(parts) or None, "accelerator_fallback": fallback}


def conversion_flags(record: dict) -> str | None:
    """What the vendor compiler said that makes a figure not the accelerator's alone, as its
    converter reads its record (`Converter.flags`: e.g. Edge TPU operations left on the CPU);
    none for a format no installed converter makes."""
    from edgebench.convert.interface import converter_of
    from edgebench.formats import FORMATS

    if record.get("format") not in FORMATS:
        return None
    return "; ".join(converter_of(FORMATS[record["format"]]).flags(record)) or None


def add_power_notes(table: pd.DataFrame) -> pd.DataFrame:
    """Where a row has no power figure, the note says why (no source, or no power log)."""
    for column in MEASURED_POWER_COLUMNS:
        if column not in table:
            table[column] = np.nan
    source = table["power_source"]
    absent = table["power_w"].isna() & table["power_note"].isna()
    why = np.select(
        [source.eq("none"), table["status"].eq("ok")],
        [
            "no power source configured for device " + table["device"],
            "no power log came back for this run (power source " + source + "): run it again",
        ],
        "nothing was timed, so nothing was measured",
    )
    table["power_note"] = table["power_note"].where(~absent, why)
    return table


def flag_accuracy(table: pd.DataFrame, limit: float | dict | None) -> pd.DataFrame:
    """accuracy_fail where the accuracy drop exceeds the suite's `max_accuracy_drop` (a number,
    or per workload with an optional `default`): a fast but broken model is not ranked as fine."""
    if limit is None:
        table["accuracy_drop_limit"] = np.nan
    elif isinstance(limit, dict):
        table["accuracy_drop_limit"] = table["workload"].map(
            lambda w: limit.get(w, limit.get("default"))
        )
    else:
        table["accuracy_drop_limit"] = float(limit)
    limits = table["accuracy_drop_limit"].astype("float64")
    drop = table["accuracy_drop"].astype("float64")
    table["accuracy_fail"] = (drop > limits + 1e-12).where(drop.notna() & limits.notna())
    return table
