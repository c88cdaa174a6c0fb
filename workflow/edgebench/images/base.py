"""A local Debian base image made with debootstrap + `docker import`, for hosts that can reach a
Debian mirror and PyPI but no container registry. Every Dockerfile in containers/ builds on it
with `--build-arg BASE_IMAGE=edgebench/base:bookworm` (config key `base_image`).

    python -m edgebench.images base [--tag edgebench/base:bookworm] [--suite bookworm]

Cached: nothing is done when the tag already exists. Needs root (debootstrap) and a Docker
daemon, which is asked first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_TAG = "edgebench/base:bookworm"
DEFAULT_SUITE = "bookworm"
# What every image in containers/ expects from its base: python3 with venv and pip, CA handling.
PACKAGES = ("python3", "python3-pip", "python3-venv", "ca-certificates")


class BaseImageError(RuntimeError):
    """The base image cannot be made here (no root, no debootstrap, no docker)."""


def apt_mirror(suite: str = DEFAULT_SUITE, sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses for `suite` (one-line or deb822 sources)."""
    files = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file() or path.suffix not in (".list", ".sources"):
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".list":
            for line in text.splitlines():
                fields = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(fields) >= 3 and fields[0] == "deb" and fields[2] == suite:
                    return fields[1].rstrip("/")
            continue
        for stanza in re.split(r"\n\s*\n", text):
            keys = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    key, _, value = line.partition(":")
                    keys[key.strip().lower()] = value.split()
            if "deb" in keys.get("types", []) and suite in keys.get("suites", []):
                if keys.get("uris"):
                    return keys["uris"][0].rstrip("/")
    raise BaseImageError(
        f"no Debian mirror for {suite!r} in {sources}/sources.list*: give one with --mirror URL"
    )


def image_exists(tag: str) -> bool:
    """Whether the Docker daemon has `tag`; BaseImageError when no daemon answers."""
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, text=True)
    if result.returncode == 0:
        return True
    if re.search(r"no such (image|object)", result.stderr, re.IGNORECASE):
        return False
    lines = result.stderr.strip().splitlines()
    raise BaseImageError(
        f"the Docker daemon does not answer ({lines[-1] if lines else result.returncode}); "
        "start one with `sudo .venv/bin/python -m edgebench.images daemon` and export the "
        "DOCKER_HOST it prints"
    )


def make_base_image(
    tag: str = DEFAULT_TAG,
    suite: str = DEFAULT_SUITE,
    mirror: str | None = None,
    workdir: Path | None = None,
    log=sys.stderr,
) -> bool:
    """Make `tag` from a minbase debootstrap unless it exists; True when it was made now.

    The daemon is asked first: no minute of debootstrap for an image that cannot be stored."""
    for tool, package in (("docker", "docker.io"), ("debootstrap", "debootstrap")):
        if shutil.which(tool) is None:
            raise BaseImageError(f"making {tag} needs '{tool}' (Debian package {package})")
    if image_exists(tag):
        print(f"{tag} exists; nothing to do", file=log)
        return False
    if os.geteuid() != 0:
        raise BaseImageError(
            f"making {tag} runs debootstrap, which needs root: "
            "`sudo .venv/bin/python -m edgebench.images base`"
        )
    mirror = mirror or apt_mirror(suite)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgebench-base-", dir=workdir) as tmp:
        root = Path(tmp) / "rootfs"
        command = [
            "debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
            suite, str(root), mirror,
        ]  # fmt: skip
        print("$ " + " ".join(command), file=log, flush=True)
        run(command, log)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for path in (root / junk).glob("*"):
                if path.is_file():
                    path.unlink()
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        changes = ["--change", 'CMD ["/bin/bash"]', "--change", "ENV LANG=C.UTF-8"]
        run(["docker", "import", *changes, "-", tag], log, stdin=tar.stdout)
        tar.stdout.close()
        if tar.wait() != 0:
            raise BaseImageError(f"tar of the debootstrap root failed ({tar.returncode})")
    print(f"{tag} made from {mirror} in {time.monotonic() - started:.0f} s", file=log)
    return True


def run(command: list[str], log, stdin=None) -> None:
    result = subprocess.run(command, stdin=stdin, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise BaseImageError(f"{command[0]} exited with code {result.returncode}")
