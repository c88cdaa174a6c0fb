"""Build one toolchain image and write its record (results/images/{image}.json).

An image that cannot be built fails this job with the builder's own words and the fix, on the
console and in the log: the conversions that need the image do not run."""

import sys
from pathlib import Path

from edgebench.images.build import ImageBuildError, build_image

settings = snakemake.params.settings  # noqa: F821
with open(snakemake.log[0], "a") as log:  # noqa: F821
    try:
        record = build_image(
            snakemake.wildcards.image,  # noqa: F821
            containers=Path(settings["containers"]),
            record_path=Path(snakemake.output[0]),  # noqa: F821
            log=log,
            engine=settings["engine"],
            base_image=settings["base_image"],
            ca_bundle=Path(settings["ca_bundle"]) if settings["ca_bundle"] else None,
        )
    except ImageBuildError as error:
        print(f"error: {error}", file=log)
        print(f"\nedgebench: {error}\n", file=sys.stderr, flush=True)
        sys.exit(1)
    print(f"{record['image']}: {record['status']} {record['id']}", file=log)
