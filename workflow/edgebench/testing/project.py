"""Scratch copies of a project folder: its own config/, devices/ and containers/, the workflow
linked in.

Tests and benchmarks run the real workflow in such a copy so they never touch results/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from edgebench.settings.files import REPO


def copy_project(destination: Path, source: Path = REPO, link_workflow: bool = True) -> Path:
    """With `link_workflow` False, workflow/ (and envs/, which its rules name) are copied too:
    a second checkout of its own."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / "Snakefile", destination / "Snakefile")
    folders = ("config", "devices", "profiles", "containers", *(() if link_workflow else ("envs",)))
    for folder in folders:
        if (source / folder).is_dir():
            shutil.copytree(source / folder, destination / folder)
    if link_workflow:
        (destination / "workflow").symlink_to(source / "workflow")
    else:
        ignored = shutil.ignore_patterns("__pycache__", "*.egg-info")
        shutil.copytree(source / "workflow", destination / "workflow", ignore=ignored)
    return destination
