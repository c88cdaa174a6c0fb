"""Snakemake's lock on the project folder (.snakemake/locks) after a killed workflow.

Snakemake never removes a lock by itself: it cannot tell a dead workflow from a live one, and
on a shared filesystem neither can this module (a workflow on another machine is invisible
here). So the lock is not cleared; when no Snakemake process on this machine runs in this
folder, the user is told, before Snakemake refuses the run, that it is stale and what to type.
"""

from __future__ import annotations

import os
from pathlib import Path

UNLOCK = "snakemake --unlock"


def snakemake_processes_in(folder: Path) -> list[int]:
    """Pids of the other Snakemake processes on this machine whose working folder is `folder`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone meanwhile, or another user's
            continue
        if is_snakemake(command) and cwd == folder:
            found.append(int(entry.name))
    return found


def is_snakemake(command: list[bytes]) -> bool:
    """`snakemake ...`, `python .../bin/snakemake ...` or `python -m snakemake ...` (a job);
    not a rule's script, though its path lies under .snakemake/scripts."""
    head = [os.path.basename(part) for part in command[:3]]
    return b"snakemake" in head[:2] or b"-m snakemake" in b" ".join(head)


def stale_lock_note(folder: Path = Path(".")) -> str | None:
    """What to do about a lock no process on this machine holds; None while there is no lock
    or a Snakemake process here may hold it."""
    folder = folder.resolve()
    locks = folder / ".snakemake" / "locks"
    if not locks.is_dir() or not any(locks.iterdir()) or not Path("/proc").is_dir():
        return None
    if snakemake_processes_in(folder):
        return None
    return (
        f"edgebench: {locks} holds a lock, but no Snakemake process on this machine runs in "
        f"{folder}: a killed workflow (kill -9, a crash) left it. Unless a workflow on another "
        f"machine uses this folder, run `{UNLOCK}` once, then the same command again "
        "(rerun-incomplete redoes the jobs it cut off)."
    )
