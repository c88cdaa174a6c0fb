"""Container engines: how a command reaches its toolchain image (shared by image builds and
conversions, so it lives with the images and conversion imports it, never the other way).

`none` runs it in this Python environment (the embedded default); `docker` runs it with
`docker run --rm` in the foreground inside the format's toolchain image (the image id its
build record names), the project folder mounted at the same path and files owned by the calling
user; `apptainer` runs it with `apptainer exec` in the .sif made from that image. Every engine
runs the same command, `python3 -m edgebench.convert ...`; inside an image the edgebench
package is not installed but mounted read-only at /opt/edgebench/workflow (PYTHONPATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edgebench import paths
from edgebench.settings.errors import ConfigError

ENGINES = ("none", "docker", "apptainer")
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds edgebench/
MOUNTED_PACKAGE = "/opt/edgebench/workflow"


def mounts(project: Path) -> list[tuple[str, str, str]]:
    """(host path, container path, mode): the project, the package, and results/ where it is a
    link to another disk."""
    found = [(str(project), str(project), "rw"), (str(PACKAGE_ROOT), MOUNTED_PACKAGE, "ro")]
    results = project / paths.RESULTS
    if results.is_symlink():
        found.append((str(results.resolve()), str(results), "rw"))
    return found


@dataclass(frozen=True)
class Engine:
    name: str

    def command(
        self, argv: list[str], image: dict | None = None, project: Path | None = None
    ) -> list[str]:
        """The full command line; `image` is the image's build record (results/images/)."""
        if self.name == "none":
            return [sys.executable, *argv]
        if not image or image.get("status") != "ok":
            raise ValueError(f"containers={self.name} needs the record of a built image")
        project = Path(project or Path.cwd()).absolute()
        env = [f"PYTHONPATH={MOUNTED_PACKAGE}", "HOME=/tmp"]
        if self.name == "docker":
            command = [
                "docker", "run", "--rm", "--network", "none",
                "--user", f"{os.getuid()}:{os.getgid()}", "--workdir", str(project),
            ]  # fmt: skip
            for source, target, mode in mounts(project):
                command += ["--volume", f"{source}:{target}:{mode}"]
            for variable in env:
                command += ["--env", variable]
            if image.get("gpu"):
                command += ["--gpus", "all"]
            return [*command, image["id"], "python3", *argv]
        command = ["apptainer", "exec", "--cleanenv", "--pwd", str(project)]
        for source, target, mode in mounts(project):
            command += ["--bind", f"{source}:{target}:{mode}"]
        for variable in env:
            command += ["--env", variable]
        if image.get("gpu"):
            command.append("--nv")
        return [*command, image["sif"], "python3", *argv]


def docker_problem() -> str | None:
    """Why the Docker daemon cannot be used, or None when it answers."""
    try:
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "`docker version` did not answer within 60 s"
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return f"`docker version` says: {lines[-1] if lines else result.returncode}"
    return None


def get_engine(name: str) -> Engine:
    """The engine, after checking up front that its executables (and daemon) are there."""
    if name not in ENGINES:
        raise ConfigError(f"unknown container engine {name!r}; valid: {', '.join(ENGINES)}")
    needed = {"none": [], "docker": ["docker"], "apptainer": ["apptainer", "docker"]}[name]
    for tool in needed:
        if shutil.which(tool) is None:
            why = "" if tool == name else " (images are built with docker, then converted)"
            raise ConfigError(
                f"containers={name} needs the '{tool}' command{why}, which is not on PATH; "
                "install it or run with --config containers=none"
            )
    if needed:
        problem = docker_problem()
        if problem:
            raise ConfigError(
                f"containers={name} needs a running Docker daemon, but {problem}; "
                f"{daemon_hint()} or run with --config containers=none"
            )
    return Engine(name)


def daemon_hint() -> str:
    """What to do when no daemon answers: export the private daemon's DOCKER_HOST when that
    one answers, else start it."""
    from edgebench.images.daemon import SOCKET, reachable

    private = f"unix://{SOCKET}"
    if os.environ.get("DOCKER_HOST") != private and reachable(private, timeout=10):
        return f"edgebench's private daemon answers: `export DOCKER_HOST={private}`,"
    return (
        "start Docker (or point DOCKER_HOST at a daemon), or start edgebench's private daemon "
        "with `sudo .venv/bin/python -m edgebench.images daemon` and export the DOCKER_HOST "
        "it prints,"
    )
