"""Convert one workload to one format through the configured container engine."""

from pathlib import Path

from edgebench.convert.engine import run_conversion
from edgebench.images.engines import get_engine
from edgebench.warm import wanted

settings = snakemake.params.settings  # noqa: F821
calibration = settings.get("calibration", {})  # int8 formats only: nothing else depends on it
dataset = snakemake.input.get("dataset")  # noqa: F821
image = snakemake.input.get("image")  # noqa: F821  (the image's record, when containers != none)
run_conversion(
    get_engine(settings["engine"]),
    workload_dir=Path(snakemake.input.meta).parent,  # noqa: F821
    format_name=snakemake.wildcards.format,  # noqa: F821
    record=Path(snakemake.output.record),  # noqa: F821
    log=Path(snakemake.log[0]),  # noqa: F821
    samples=calibration.get("samples", 100),
    seed=calibration.get("seed", 0),
    dataset=Path(dataset) if dataset else None,
    image=Path(image) if image else None,
    server=wanted(snakemake.config),  # noqa: F821
)
