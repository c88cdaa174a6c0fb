"""Build one toolchain image and write its record (results/images/{image}.json)."""

from pathlib import Path

from edgebench.images.build import build_image

settings = snakemake.params.settings  # noqa: F821
with open(snakemake.log[0], "a") as log:  # noqa: F821
    record = build_image(
        snakemake.wildcards.image,  # noqa: F821
        containers=Path(settings["containers"]),
        record_path=Path(snakemake.output[0]),  # noqa: F821
        log=log,
        engine=settings["engine"],
        base_image=settings["base_image"],
        ca_bundle=Path(settings["ca_bundle"]) if settings["ca_bundle"] else None,
    )
    print(f"{record['image']}: {record['status']} {record.get('id', record['reason'])}", file=log)
