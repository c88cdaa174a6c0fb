"""The local transport: the agent runs in a subprocess on this machine, from its stage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from edgebench.agent.boardlock import LOCK_DIR
from edgebench.devices.staging import AGENT_PACKAGE


class LocalTransport:
    stages_agent = True
    lifeline_timeout_s = None  # a pipe on this machine always closes when this side dies

    def __init__(self, profile: dict):
        self.profile = profile
        self.python = profile.get("python") or sys.executable

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
