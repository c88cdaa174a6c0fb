"""Up-front checks of the image settings, before any job starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from edgebench.images.build import COMMON, ca_bundle_path
from edgebench.images.catalog import IMAGES
from edgebench.settings.errors import ConfigError


def check_images(images: list[str], config: dict, root: Path = Path(".")) -> None:
    """Each needed image has its Dockerfile; the base image and CA bundle, if set, exist.

    The CA bundle is checked whenever it is set, containers on or off: only image builds use
    it, but it is a setting of the site (config/config.yaml) that a wrong value would otherwise
    pass unnoticed until the first run with containers."""
    if config.get("ca_bundle"):
        try:
            check_ca_bundle(config["ca_bundle"], root)
        except ConfigError as error:
            if images:
                raise
            raise ConfigError(
                f"{error}; or remove the key: only image builds (containers docker or "
                "apptainer) use it, and it is checked whenever it is set"
            ) from None
    for name in images:
        dockerfile = root / "containers" / name / "Dockerfile"
        if name not in IMAGES or not dockerfile.is_file():
            raise ConfigError(
                f"containers={config['containers']} needs the {name} image, but {dockerfile} "
                "does not exist; restore it or run with --config containers=none"
            )
    if not images:
        return
    common = root / "containers" / COMMON / "Dockerfile"
    if not common.is_file():
        raise ConfigError(
            f"every toolchain image is built from the common base, but {common} does not "
            "exist; restore it (containers/common/ of edgebench) or run with "
            "--config containers=none"
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


def check_ca_bundle(value: str, root: Path = Path(".")) -> Path:
    """The CA bundle file (`~` expanded, relative to the project folder), or a ConfigError
    that says what is wrong with it."""
    path = root / ca_bundle_path(value)
    where = f"config key 'ca_bundle' names {value!r}" + (f" ({path})" if str(path) != value else "")
    if not path.exists():
        raise ConfigError(
            f"{where}, which does not exist; give the PEM file of your proxy's CA "
            "certificate(s), e.g. --config ca_bundle=/usr/local/share/ca-certificates/proxy.crt"
        )
    if not path.is_file():
        raise ConfigError(f"{where}, which is not a file; give one PEM file of certificates")
    try:
        text = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{where}, which cannot be read: {error.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(
            f"{where}, which is not a PEM file of certificates (no -----BEGIN CERTIFICATE----- "
            "line); convert a DER file with `openssl x509 -inform der -in FILE -out FILE.pem`"
        )
    return path
