"""Scratch copies of a project folder: its own config/, devices/ and containers/, the workflow
linked in.

Tests and benchmarks run the real workflow in such a copy so they never touch results/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from edgebench.settings.files import REPO


def copy_project(destination: Path, source: Path = REPO) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "Snakefile", destination / "Snakefile")
    for folder in ("config", "devices", "profiles", "containers"):
        if (source / folder).is_dir():
            shutil.copytree(source / folder, destination / folder)
    (destination / "workflow").symlink_to(source / "workflow")
    return destination
