"""The local transport: the agent runs in a subprocess on this machine, from its stage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from edgebench.devices.staging import AGENT_PACKAGE


class LocalTransport:
    def __init__(self, profile: dict):
        self.profile = profile
        self.python = profile.get("python") or sys.executable

    def execute(self, stage: Path, job_file: Path, log) -> int:
        command = [self.python, "-m", AGENT_PACKAGE, job_file.name]
        log.write("$ " + " ".join(command) + f"  (in {stage})\n")
        log.flush()
        return subprocess.run(command, cwd=stage, stdout=log, stderr=subprocess.STDOUT).returncode

    def fetch(self, stage: Path, destination: Path) -> None:
        """Copy the raw results back beside the declared output, never a partial file."""
        for name in ("accuracy.npz", "run.jsonl"):  # run.jsonl last: it marks completion
            source = stage / "out" / name
            if source.exists():
                partial = destination / f".{name}.part"
                shutil.copy2(source, partial)
                partial.replace(destination / name)

    def cleanup(self, stage: Path) -> None:
        shutil.rmtree(stage, ignore_errors=True)
