# Config validation, the run plan, wildcard constraints and every input/param helper.
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from edgebench.convert.engine import get_engine
from edgebench.convert.formats import FORMATS
from edgebench.devices.dispatch import board_resource, transport_for
from edgebench.images.catalog import images_for
from edgebench.images.checks import check_images
from edgebench.settings import ConfigError, load_plan

validate(config, schema="../../config/schema.yaml")

try:
    PLAN = load_plan(config)
    ENGINE = get_engine(PLAN.containers)
    IMAGES_NEEDED = images_for(PLAN.formats) if ENGINE.name != "none" else []
    check_images(IMAGES_NEEDED, config)
    for _profile in PLAN.devices.values():
        transport_for(_profile)
except ConfigError as error:
    raise WorkflowError(f"edgebench configuration error: {error}") from None


wildcard_constraints:
    workload="[a-z0-9][a-z0-9_.-]*",
    device="[a-z0-9][a-z0-9_.-]*",
    format="|".join(FORMATS),
    dataset="[a-z0-9][a-z0-9_.-]*",
    image="[a-z0-9][a-z0-9_.-]*",


# One run at a time per device: a resource of capacity 1 per board, claimed by its runs.
BOARD_RESOURCES = {}
for _device in PLAN.devices:
    _board = board_resource(_device)
    workflow.global_resources.setdefault(_board, 1)
    BOARD_RESOURCES[_board] = lambda wildcards, device=_device: int(
        wildcards.device == device
    )


def all_targets():
    return ["results/tables/results.csv"]


def conversion_record(workload, fmt):
    return f"results/converted/{workload}/{fmt}.json"


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
    if FORMATS[wildcards.format].source:  # made from another format's file
        inputs["source"] = conversion_record(
            wildcards.workload, FORMATS[wildcards.format].source
        )
    if ENGINE.name != "none":  # runs inside the format's image
        inputs["image"] = image_record(FORMATS[wildcards.format].image)
    return inputs


def conversion_settings(wildcards):
    return {
        "engine": ENGINE.name,
        "samples": PLAN.suite["calibration_samples"],
        "seed": PLAN.suite["seed"],
    }


def reference_dataset(wildcards):
    return trained_on(wildcards.workload)


def accuracy_workloads():
    """Workloads scored for accuracy, with their dataset file."""
    return {w: trained_on(w) for w in PLAN.workloads if trained_on(w)}


def run_inputs(wildcards):
    inputs = {
        "conversion": conversion_record(wildcards.workload, wildcards.format),
        "meta": f"results/workloads/{wildcards.workload}/meta.json",
    }
    dataset = trained_on(wildcards.workload)
    if dataset:
        inputs["dataset"] = dataset
    return inputs


def device_profile(wildcards):
    return PLAN.devices[wildcards.device]


def suite_run_settings(wildcards):
    return {key: PLAN.suite[key] for key in ("batch_sizes", "timing", "seed")}


def run_threads(wildcards):
    """A local run owns the machine: no other job may disturb its timings."""
    local = PLAN.devices[wildcards.device]["transport"] == "local"
    return workflow.cores if local else 1


def table_inputs(wildcards):
    return {
        "runs": [
            f"results/raw/{device}/{workload}/{fmt}/run.jsonl"
            for device, workload, fmt in PLAN.runs()
        ],
        "conversions": [conversion_record(w, f) for w, f in PLAN.conversions()],
        "metas": [f"results/workloads/{w}/meta.json" for w in PLAN.workloads],
        "references": [f"results/reference/{w}.npz" for w in accuracy_workloads()],
    }


def image_record(image):
    return f"results/images/{image}.json"


def image_inputs(wildcards):
    """Every file of the image's build context, and the extra CA bundle it trusts."""
    folder = Path("containers") / wildcards.image
    inputs = {"context": sorted(str(p) for p in folder.rglob("*") if p.is_file())}
    if config.get("ca_bundle"):
        inputs["ca_bundle"] = config["ca_bundle"]
    return inputs


def image_settings(wildcards):
    return {
        "containers": "containers",
        "engine": ENGINE.name,
        "base_image": config.get("base_image"),
        "ca_bundle": config.get("ca_bundle"),
    }
