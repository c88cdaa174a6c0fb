# Config validation, the run plan, wildcard constraints and every input/param helper.
import glob
import os
import re
import time
from pathlib import Path

import pandas
from snakemake.exceptions import WorkflowError

from edgebench import outcome, paths
from edgebench.images.engines import get_engine
from edgebench.formats import FORMATS
from edgebench.devices.transport import transport_class
from edgebench.devices.dispatch import (
    SESSION_VARIABLE,
    board_resource,
    measurement_settings,
)
from edgebench.images.catalog import images_for
from edgebench.images.checks import check_images
from edgebench.metrics.cost import workflow_jobs
from edgebench.preflight import baseline_table, check_plan
from edgebench.settings import ConfigError, load_plan
from edgebench.settings.errors import Refused
from edgebench.settings.plan import resolved_config, validate_config

try:
    # JSON Schema through Snakemake's validate, defaults filled in
    validate_config(config)
    PLAN = load_plan(config)
    ENGINE = get_engine(PLAN.containers)
    IMAGES_NEEDED = images_for(PLAN.formats) if ENGINE.name != "none" else []
    check_images(IMAGES_NEEDED, config)
    check_plan(PLAN)
except ConfigError as error:
    raise Refused(error) from None  # the message alone, exit status 1

# What the tables and report cover: this plan's rows plus every run measured here before.
TABLE_INPUTS = outcome.table_inputs(PLAN)
TABLE_SETTINGS = outcome.table_settings(PLAN)
# One id per workflow run: a device found unreachable is not tried again by its other jobs.
os.environ[SESSION_VARIABLE] = f"{os.getpid()}-{time.time_ns()}"


wildcard_constraints:
    workload="[a-z0-9][a-z0-9_.-]*",
    device="[a-z0-9][a-z0-9_.-]*",
    format="|".join(FORMATS),
    dataset="[a-z0-9][a-z0-9_.-]*",
    image="[a-z0-9][a-z0-9_.-]*",


# One run at a time per board: a resource of capacity 1 per physical board (profiles that name
# one board share it), claimed by the runs of every profile on that board.
BOARD_RESOURCES = {}
for _board in sorted({board_resource(p) for p in PLAN.devices.values()}):
    workflow.global_resources.setdefault(_board, 1)
    BOARD_RESOURCES[_board] = lambda wildcards, board=_board: int(
        board_resource(device_profile(wildcards)) == board
    )


REPORT = paths.REPORT


def all_targets():
    """The report, the file that stands for this selection, and every planned raw log: all
    targets, because Snakemake does not remake a missing file (a run that failed, a new
    selection's runs) whose consumers (the tables) look up to date; a missing target it does.
    """
    digests = [paths.device_digest(device) for device in TABLE_SETTINGS["devices"]]
    # every published file, so that a deleted one comes back
    published = [paths.TABLE_CSV, paths.TABLE_PARQUET, *digests]
    # the last step: it fails while a selected row failed
    checked = paths.rows_checked()
    return [REPORT, *published, checked, TABLE_INPUTS["plan"], *TABLE_INPUTS["runs"]]


def print_report_location():
    """After a successful run: the summary, and where the report is, as a path that opens
    directly."""
    table = Path(paths.TABLE_PARQUET)
    if table.exists():
        print(outcome.summary(pandas.read_parquet(table)))
    if Path(REPORT).exists():
        print(f"edgebench report: {Path(REPORT).resolve()}")


def keep_what_completed():
    """After failed jobs: tables and report from what completed, the summary, and the report."""
    try:
        outcome.write_partial_results(
            PLAN, report_context(None), report_images(), TABLE_INPUTS, TABLE_SETTINGS
        )
    except Exception as error:  # the failure that stopped the workflow matters more
        print(f"edgebench: could not build tables from the partial results: {error}")
        return
    print(
        "edgebench: some jobs FAILED; the tables and report below cover what completed."
    )
    print_report_location()


def conversion_record(workload, fmt):
    return paths.conversion_record(workload, fmt)


def workload_spec(wildcards):
    return PLAN.spec(wildcards.workload).to_dict()


def trained_on(workload):
    return PLAN.trained_on(workload)


def workload_inputs(wildcards):
    spec = PLAN.spec(wildcards.workload)
    inputs = {}
    if spec.weights == "trained":
        inputs["dataset"] = trained_on(wildcards.workload)
    builder_file = (spec.builder or "").rpartition(":")[0]
    if builder_file.endswith(".py"):
        inputs["builder"] = builder_file
    return inputs


def conversion_inputs(wildcards):
    inputs = {
        "model": paths.workload_model(wildcards.workload),
        "meta": paths.workload_meta(wildcards.workload),
    }
    dataset = trained_on(wildcards.workload)
    if dataset and FORMATS[wildcards.format].precision == "int8":
        inputs["dataset"] = dataset
    if FORMATS[wildcards.format].source:  # made from another format's file
        inputs["source"] = conversion_record(
            wildcards.workload, FORMATS[wildcards.format].source
        )
    if ENGINE.name != "none":  # runs inside the format's image
        inputs["image"] = image_record(FORMATS[wildcards.format].image)
    return inputs


def conversion_settings(wildcards):
    """Only what changes the converted file: calibration settings for int8 formats alone."""
    settings = {"engine": ENGINE.name}
    if FORMATS[wildcards.format].precision == "int8":
        settings["calibration"] = {
            "samples": PLAN.suite["calibration_samples"],
            "seed": PLAN.suite["seed"],
        }
    return settings


def reference_dataset(wildcards):
    return PLAN.accuracy_dataset(wildcards.workload)


def run_inputs(wildcards):
    inputs = {
        "conversion": conversion_record(wildcards.workload, wildcards.format),
        "meta": paths.workload_meta(wildcards.workload),
    }
    dataset = PLAN.accuracy_dataset(wildcards.workload)
    if dataset:
        inputs["dataset"] = dataset
    return inputs


def tiny_source(wildcards):
    return str(
        Path(PLAN.tiny_data[PLAN.spec(wildcards.workload).test_set]).expanduser()
    )


def imagenet_labels(wildcards):
    folder = Path(PLAN.imagenet_val["path"]).expanduser()
    return str(folder / PLAN.imagenet_val.get("labels", "labels.txt"))


def imagenet_settings(wildcards):
    spec = PLAN.spec(wildcards.workload)
    return {
        "folder": str(Path(PLAN.imagenet_val["path"]).expanduser()),
        "labels": PLAN.imagenet_val.get("labels", "labels.txt"),
        "preprocessing": spec.preprocessing,
        "input_shape": spec.input_shape,
    }


def device_profile(wildcards):
    if wildcards.device not in PLAN.devices:
        raise WorkflowError(
            f"device {wildcards.device!r} is not selected; add it to the run with "
            f"--config devices={','.join([*PLAN.devices, wildcards.device])}"
        )
    return PLAN.devices[wildcards.device]


def suite_run_settings(wildcards):
    """The suite's keys that change this run; a block always runs at batch 1 (job_settings),
    so the suite's batch_sizes are no parameter of a block's runs."""
    keys = ["timing", "seed", "threads"]
    if PLAN.spec(wildcards.workload).group == "models":
        keys.insert(0, "batch_sizes")
    return {key: PLAN.suite.get(key) for key in keys}


def run_threads(wildcards):
    """A local run owns the machine: no other job may disturb its timings."""
    here = transport_class(PLAN.devices[wildcards.device]).runs_here
    return workflow.cores if here else 1


def table_inputs(wildcards):
    return TABLE_INPUTS


def device_runs(wildcards):
    """The raw logs this plan makes on one device (runs measured before are read as they are)."""
    return [paths.raw_log(*key) for key in PLAN.runs() if key[0] == wildcards.device]


def table_device(wildcards):
    return TABLE_SETTINGS["devices"][wildcards.device]


def measured_device_runs(wildcards):
    """Raw logs of the device measured before, outside this plan: read, never made again."""
    return outcome.device_logs(TABLE_SETTINGS, wildcards.device, [])


def measured_conversions(wildcards):
    """Conversion records of the runs measured before, outside this plan."""
    records = (paths.conversion_record(w, f) for _, w, f in TABLE_SETTINGS["elsewhere"])
    return [path for path in dict.fromkeys(records) if Path(path).exists()]


def report_inputs(wildcards):
    inputs = {
        "table": paths.TABLE_PARQUET,
        "digests": [
            paths.device_digest(device) for device in TABLE_SETTINGS["devices"]
        ],
        "conversions": TABLE_INPUTS["conversions"],
        "images": report_images(),
    }
    if PLAN.baseline:  # a new baseline table rebuilds the report
        inputs["baseline"] = str(baseline_table(PLAN.baseline))
    return inputs


def report_images():
    """Records of the images this run converts in; with no engine, whatever records exist."""
    if ENGINE.name == "none":
        return sorted(glob.glob(paths.image_record("*")))
    return sorted({image_record(FORMATS[fmt].image) for fmt in PLAN.formats})


def report_context(wildcards):
    """What the report's provenance section shows: the config, suite and device profiles, and
    the measured jobs whose benchmark files it sums (read, no inputs: they exist once the
    jobs ran; a missing one is said)."""
    return {
        "config": resolved_config(config),
        "suite_name": PLAN.suite_name,
        "suite": PLAN.suite,
        "devices": PLAN.devices,
        "baseline": PLAN.baseline,
        "jobs": workflow_jobs(PLAN.runs(), TABLE_SETTINGS, PLAN.interleaved_groups()),
    }


def image_record(image):
    return paths.image_record(image)


# Interleaved schedule (run.smk)
def interleaved_inputs(wildcards):
    formats = PLAN.interleaved_groups()[wildcards.device]
    inputs = {
        "conversions": [conversion_record(wildcards.workload, fmt) for fmt in formats],
        "meta": paths.workload_meta(wildcards.workload),
    }
    dataset = PLAN.accuracy_dataset(wildcards.workload)
    if dataset:
        inputs["dataset"] = dataset
    return inputs


def interleaved_run_settings(wildcards):
    """The suite's keys that change an interleaved run: those of a sequential one, the
    schedule, and the reference of its paired speed-ups (written into every header)."""
    return {
        **suite_run_settings(wildcards),
        "schedule": PLAN.schedule,
        "speedup_reference": PLAN.speedup_reference,
    }


def interleaved_rule(device):
    """The name of a device's interleaved run rule."""
    return f"run_interleaved_{re.sub(r'[^A-Za-z0-9_]', '_', device)}"


def measured_by(wildcards):
    """The device profile's keys that change a measurement (a run's rerun trigger)."""
    return measurement_settings(device_profile(wildcards))
