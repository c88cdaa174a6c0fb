"""The container-engine seam: how a conversion command reaches its toolchain.

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
import textwrap
from dataclasses import dataclass
from pathlib import Path

from edgebench.convert.formats import FORMATS
from edgebench.fileio import read_json, write_json
from edgebench.settings.errors import ConfigError

ENGINES = ("none", "docker", "apptainer")
PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder that holds edgebench/
MOUNTED_PACKAGE = "/opt/edgebench/workflow"


def mounts(project: Path) -> list[tuple[str, str, str]]:
    """(host path, container path, mode): the project, the package, and results/ where it is a
    link to another disk."""
    found = [(str(project), str(project), "rw"), (str(PACKAGE_ROOT), MOUNTED_PACKAGE, "ro")]
    results = project / "results"
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


def run_conversion(
    engine: Engine,
    workload_dir: Path,
    format_name: str,
    record: Path,
    log: Path,
    samples: int,
    seed: int,
    dataset: Path | None = None,
    image: Path | None = None,
) -> int:
    """Run one conversion through the engine; a crashed converter still leaves a `failed` row,
    and an image that could not be built an `unsupported` one."""
    image_record = read_json(image) if image else None
    if engine.name != "none" and (image_record is None or image_record.get("status") != "ok"):
        why = image_record["reason"] if image_record else "no image record was given"
        write_json(
            record,
            {
                "workload": workload_dir.name,
                "format": format_name,
                "engine": engine.name,
                "image": FORMATS[format_name].image,
                "status": "unsupported",
                "reason": f"the {FORMATS[format_name].image} image is not available: {why}",
            },
        )
        return 0
    argv = [
        "-m", "edgebench.convert", "--workload-dir", str(workload_dir), "--format", format_name,
        "--record", str(record), "--samples", str(samples), "--seed", str(seed),
        "--engine", engine.name,
    ]  # fmt: skip
    if dataset is not None:
        argv += ["--dataset", str(dataset)]
    if engine.name != "none":
        argv += ["--image-id", image_record["id"]]
    command = engine.command(argv, image_record, Path.cwd())
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT).returncode
    if code != 0 or not record.exists():
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        last = (
            f": {textwrap.shorten(lines[-1], 300, placeholder=' [...]')}"
            if lines and not lines[-1].startswith("$ ")
            else ""
        )
        write_json(
            record,
            {
                "workload": workload_dir.name,
                "format": format_name,
                "engine": engine.name,
                "status": "failed",
                "reason": f"converter process exited with code {code}{last}; see {log}",
            },
        )
    return code
