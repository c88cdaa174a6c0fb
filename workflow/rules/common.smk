# Config validation, the run plan, wildcard constraints and every input/param helper.
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from edgebench.convert.engine import get_engine
from edgebench.convert.formats import FORMATS
from edgebench.settings import ConfigError, load_plan

validate(config, schema="../../config/schema.yaml")

try:
    PLAN = load_plan(config)
    ENGINE = get_engine(PLAN.containers)
except ConfigError as error:
    raise WorkflowError(f"edgebench configuration error: {error}") from None


wildcard_constraints:
    workload="[a-z0-9][a-z0-9_.-]*",
    format="|".join(FORMATS),
    dataset="[a-z0-9][a-z0-9_.-]*",


def all_targets():
    return [
        f"results/converted/{workload}/{fmt}.json"
        for workload, fmt in PLAN.conversions()
    ]


def workload_spec(wildcards):
    return PLAN.spec(wildcards.workload).to_dict()


def trained_on(workload):
    """The dataset file a workload trains on (and calibrates with), if any."""
    spec = PLAN.spec(workload)
    return f"results/datasets/{spec.dataset}.npz" if spec.dataset else None


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
        "model": f"results/workloads/{wildcards.workload}/model.keras",
        "meta": f"results/workloads/{wildcards.workload}/meta.json",
    }
    dataset = trained_on(wildcards.workload)
    if dataset and FORMATS[wildcards.format].precision == "int8":
        inputs["dataset"] = dataset
    return inputs


def conversion_settings(wildcards):
    return {
        "engine": ENGINE.name,
        "samples": PLAN.suite["calibration_samples"],
        "seed": PLAN.suite["seed"],
    }
