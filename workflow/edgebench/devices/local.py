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

    def run(self, stage: Path, log) -> int:
        """Run the staged job; its results are left in `stage/out`."""
        command = [self.python, "-m", AGENT_PACKAGE, "job.json"]
        log.write("$ " + " ".join(command) + f"  (in {stage})\n")
        log.flush()
        return subprocess.run(command, cwd=stage, stdout=log, stderr=subprocess.STDOUT).returncode

    def cleanup(self, stage: Path) -> None:
        shutil.rmtree(stage, ignore_errors=True)
