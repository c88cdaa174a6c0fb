"""The container-engine seam: how a conversion command reaches its toolchain.

`none` runs it in this Python environment (the embedded default); `docker` runs it with
`docker run --rm` in the foreground inside the format's toolchain image, the project folder
mounted and files owned by the calling user; `apptainer` runs it with `apptainer exec`.
Every engine runs the same command, `python -m edgebench.convert ...`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from edgebench.convert.formats import FORMATS
from edgebench.fileio import write_json
from edgebench.settings.errors import ConfigError

ENGINES = ("none", "docker", "apptainer")


@dataclass(frozen=True)
class Engine:
    name: str

    def command(self, argv: list[str], image: str, project: Path) -> list[str]:
        if self.name == "none":
            return [sys.executable, *argv]
        if self.name == "docker":
            user = f"{os.getuid()}:{os.getgid()}"
            return [
                "docker", "run", "--rm", "--network", "none", "--user", user,
                "--volume", f"{project}:{project}", "--workdir", str(project),
                "--env", "HOME=/tmp", f"edgebench/{image}:latest", "python", *argv,
            ]  # fmt: skip
        return [
            "apptainer", "exec", "--bind", str(project), "--pwd", str(project),
            str(project / "results" / "images" / f"{image}.sif"), "python", *argv,
        ]  # fmt: skip


def get_engine(name: str) -> Engine:
    """The engine, after checking up front that its executable exists."""
    if name not in ENGINES:
        raise ConfigError(f"unknown container engine {name!r}; valid: {', '.join(ENGINES)}")
    if name != "none" and shutil.which(name) is None:
        raise ConfigError(
            f"containers={name} needs the '{name}' command, which is not on PATH; install it "
            "or run with --config containers=none"
        )
    return Engine(name)


def run_conversion(
    engine: Engine,
    workload_dir: Path,
    format_name: str,
    record: Path,
    log: Path,
    samples: int,
    seed: int,
    dataset: Path | None = None,
) -> int:
    """Run one conversion through the engine; a crashed converter still leaves a `failed` row."""
    argv = [
        "-m", "edgebench.convert", "--workload-dir", str(workload_dir), "--format", format_name,
        "--record", str(record), "--samples", str(samples), "--seed", str(seed),
        "--engine", engine.name,
    ]  # fmt: skip
    if dataset is not None:
        argv += ["--dataset", str(dataset)]
    command = engine.command(argv, FORMATS[format_name].image, Path.cwd())
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT).returncode
    if code != 0 or not record.exists():
        write_json(
            record,
            {
                "workload": workload_dir.name,
                "format": format_name,
                "engine": engine.name,
                "status": "failed",
                "reason": f"converter process exited with code {code}; see {log}",
            },
        )
    return code
