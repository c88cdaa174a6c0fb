"""`python3 -m edgebench.images.versions IMAGE`: tool versions and every installed package,
read from inside the image.

Runs in the image with only the standard library; prints one JSON object: `versions` (the
tools the catalogue names) and `packages` (every Python distribution and Debian package)."""

from __future__ import annotations

import json
import os
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


def python_packages() -> dict[str, str]:
    """Every Python distribution installed in the image (its venv and system site-packages),
    not the ones mounted from outside (PYTHONPATH: the edgebench package) or the work folder."""
    outside = [Path(p).resolve() for p in os.environ.get("PYTHONPATH", "").split(":") if p]
    outside.append(Path.cwd().resolve())
    found = {}
    for dist in metadata.distributions():
        location = Path(str(dist.locate_file(""))).resolve()
        if any(location == o or o in location.parents for o in outside):
            continue
        name = dist.metadata["Name"]
        if name:
            found.setdefault(name, dist.version)
    return dict(sorted(found.items(), key=lambda item: item[0].lower()))


def debian_packages() -> dict[str, str]:
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Abbrev}\n"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except OSError:
        return {}
    found = {}
    for line in result.stdout.splitlines():
        package, version, status = (line.split("\t") + ["", ""])[:3]
        if status.startswith("ii"):
            found[package] = version
    return dict(sorted(found.items()))


if __name__ == "__main__":
    contents = {
        "versions": read_versions(sys.argv[1]),
        "packages": {"python": python_packages(), "debian": debian_packages()},
    }
    print(json.dumps(contents, sort_keys=True))
