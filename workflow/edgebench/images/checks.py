"""Up-front checks of the image settings, before any job starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from edgebench.images.catalog import IMAGES
from edgebench.settings.errors import ConfigError


def check_images(images: list[str], config: dict, root: Path = Path(".")) -> None:
    """Each needed image has its Dockerfile; the base image and CA bundle, if set, exist."""
    for name in images:
        dockerfile = root / "containers" / name / "Dockerfile"
        if name not in IMAGES or not dockerfile.is_file():
            raise ConfigError(
                f"containers={config['containers']} needs the {name} image, but {dockerfile} "
                "does not exist; restore it or run with --config containers=none"
            )
    if not images:
        return
    ca_bundle = config.get("ca_bundle")
    if ca_bundle:
        path = root / ca_bundle
        if not path.is_file() or b"BEGIN CERTIFICATE" not in path.read_bytes():
            raise ConfigError(
                f"config key 'ca_bundle' names {ca_bundle!r}, which is not a PEM file of "
                "certificates (-----BEGIN CERTIFICATE-----)"
            )
    base = config.get("base_image")
    if base:
        found = subprocess.run(["docker", "image", "inspect", base], capture_output=True)
        if found.returncode != 0:
            raise ConfigError(
                f"config key 'base_image' names {base!r}, which the Docker daemon does not have; "
                f"make it with `python -m edgebench.images base --tag {base}` (debootstrap, "
                "no registry needed) or leave base_image unset to use each Dockerfile's default"
            )
