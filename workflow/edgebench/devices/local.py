"""The local transport: the agent runs in a subprocess on this machine, from its stage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from edgebench.agent.boardlock import LOCK_DIR
from edgebench.devices.staging import AGENT_PACKAGE
from edgebench.devices.transport import LOCK_DIR_OPTION, Transport


class LocalTransport(Transport):
    name = "local"
    stages_agent = True
    runs_here = True
    options = {
        "python": {
            "description": "The Python that runs the agent (default: the workflow's own).",
            "type": "string",
            "pattern": "^[A-Za-z0-9_./~+-]+$",
        },
        "lock_dir": LOCK_DIR_OPTION,
    }

    def __init__(self, profile: dict):
        super().__init__(profile)
        self.python = profile.get("python") or sys.executable

    @classmethod
    def board_id(cls, profile: dict) -> str:
        return "localhost"

    @classmethod
    def check_profile(cls, profile: dict, catalog: dict) -> list[str]:
        """The device's `python:` must exist here (a board's is checked when it is reached)."""
        python = profile.get("python")
        if not python:
            return []
        path = Path(python).expanduser()
        found = shutil.which(python) if path.name == python else str(path)
        if not found or not os.access(found, os.X_OK) or Path(found).is_dir():
            return [
                f"python {python!r} does not exist or is not executable on this machine; give "
                "the path of an interpreter with numpy and the runtimes, or remove the key to use "
                "the workflow's own Python"
            ]
        return []

    def board_lock(self, board: str) -> str:
        """The lock file of this machine as a board, where every user of it sees it."""
        return f"{self.profile.get('lock_dir', LOCK_DIR)}/board-{board}.lock"

    def run(self, stage: Path, log) -> int:
        """Run the staged job; its results are left in `stage/out`. The agent's stdin stays
        open while this process lives (its lifeline): if this process is killed, it stops."""
        command = [self.python, "-m", AGENT_PACKAGE, "job.json"]
        log.write("$ " + " ".join(command) + f"  (in {stage})\n")
        log.flush()
        agent = subprocess.Popen(
            command, cwd=stage, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            return agent.wait()
        finally:
            agent.stdin.close()

    def run_python(self, code: str, *args: str) -> subprocess.CompletedProcess:
        """A short Python snippet in the device's interpreter (the board probe)."""
        return subprocess.run(
            [self.python, "-c", code, *args], capture_output=True, text=True, timeout=120
        )

    def cleanup(self, stage: Path) -> None:
        shutil.rmtree(stage, ignore_errors=True)
