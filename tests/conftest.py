"""Shared fixtures: a throwaway copy of the project to run the real workflow in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from edgebench.settings.project import copy_project

SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def need(condition: bool, reason: str) -> None:
    """Skip a test whose real part is missing here, or fail it where CI promises the part
    (EDGEBENCH_REQUIRE_INTEGRATION=1, set by .ci/run)."""
    if condition:
        return
    if os.environ.get("EDGEBENCH_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"required for integration tests: {reason}")
    pytest.skip(reason)


class Project:
    """A project folder: its own config/ and devices/, the repo's workflow/ linked in."""

    def __init__(self, root: Path):
        self.root = copy_project(root)

    def write_yaml(self, relative: str, data) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def read_yaml(self, relative: str):
        return yaml.safe_load((self.root / relative).read_text())

    def snakemake(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        result = subprocess.run(
            [str(SNAKEMAKE), "--cores", "2", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env=env,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"snakemake {args} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def planned_jobs(self, *args: str) -> dict[str, int]:
        """Job counts per rule from a dry run (`snakemake -n`)."""
        output = self.snakemake("-n", "--quiet", "rules", *args).stdout
        counts = {}
        for line in output.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("job", "total"):
                counts[parts[0]] = int(parts[1])
        return counts


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path / "project")
