"""`python3 -m edgebench.images.versions IMAGE`: tool versions, read from inside the image.

Runs in the image with only the standard library; prints one JSON object."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from edgebench.images.catalog import IMAGES


def first_line(command) -> str | None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except OSError:
        return None
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0].strip() if result.returncode == 0 and lines else None


def read_versions(name: str) -> dict:
    versions = {"python": platform.python_version()}
    debian = Path("/etc/debian_version")
    if debian.is_file():
        versions["debian"] = debian.read_text().strip()
    spec = IMAGES.get(name)
    if spec is None:  # an image outside the catalogue: what every image has
        return versions
    for dist in spec.distributions:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    for tool, command in spec.commands.items():
        versions[tool] = first_line(command)
    for package in spec.debian_packages:
        versions[package] = first_line(["dpkg-query", "-W", "-f", "${Version}", package])
    return versions


if __name__ == "__main__":
    print(json.dumps(read_versions(sys.argv[1]), sort_keys=True))
