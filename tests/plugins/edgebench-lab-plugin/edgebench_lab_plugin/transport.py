"""Runs the agent on this machine in a folder the profile names (`run_folder`), as a lab might
drive a board whose storage is mounted here: only edgebench's Transport interface is used."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from edgebench.devices.transport import Transport

AGENT = "edgebench_agent"  # the staged agent package's folder in the stage


class FolderTransport(Transport):
    name = "folder"
    stages_agent = True
    runs_here = True
    required = ("run_folder",)
    options = {
        "run_folder": {
            "description": "Where each run's stage is copied and the agent runs.",
            "type": "string",
            "pattern": "^/[A-Za-z0-9_./+-]+$",
        },
    }

    @classmethod
    def board_id(cls, profile: dict) -> str:
        return f"folder:{profile['run_folder']}"

    @classmethod
    def check_profile(cls, profile: dict, catalog: dict) -> list[str]:
        folder = Path(profile["run_folder"])
        return [] if folder.is_dir() else [f"run_folder {folder} does not exist: create it"]

    def board_lock(self, board: str) -> str:
        return f"{self.profile['run_folder']}/board-{board}.lock"

    def run(self, stage: Path, log) -> int:
        place = Path(self.profile["run_folder"]) / stage.name
        shutil.rmtree(place, ignore_errors=True)
        shutil.copytree(stage, place)
        log.write(f"folder transport: running in {place}\n")
        log.flush()
        agent = subprocess.Popen(
            [sys.executable, "-m", AGENT, "job.json"],
            cwd=place,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            code = agent.wait()
        finally:
            agent.stdin.close()
        if (place / "out").is_dir():
            shutil.rmtree(stage / "out", ignore_errors=True)
            shutil.copytree(place / "out", stage / "out")
        return code

    def run_python(self, code: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120
        )

    def cleanup(self, stage: Path) -> None:
        shutil.rmtree(Path(self.profile["run_folder"]) / stage.name, ignore_errors=True)
        shutil.rmtree(stage, ignore_errors=True)
