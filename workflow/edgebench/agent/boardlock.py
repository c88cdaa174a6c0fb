"""One run per board, held on the board itself, and no agent outliving the host that started it.

The board lock is a file the agent holds with `flock` for its whole life (the kernel releases it
when the process dies, however it dies); the file also says who holds it. A new run that finds it
held by a live agent of the same project on the same host stops that agent: the workflow runs
one job per board at a time, so such an agent is an orphan (a dropped link, a killed Snakemake).
An agent of another project or host is waited for, up to `lock_wait_s`, and never overlapped.

The lifeline: the transports keep the agent's stdin open; when the host side goes away (its
process killed, the connection closed), stdin ends and the agent stops at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

AGENT_MARK = b"edgebench_agent"
LIFELINE_EXIT = 75  # exit status when the host side went away
STOP_GRACE_S = 10.0


class BoardBusy(RuntimeError):
    """Another project's or host's run holds the board for longer than the wait allows."""


def hold(path: str, holder: dict, wait_s: float, say=print) -> object:
    """Take the board lock at `path` (blocking), recording `holder`; return the open file,
    which must stay referenced for as long as the lock is held."""
    lock_path = Path(os.path.expanduser(path))
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+")  # noqa: SIM115  (held for the process's lifetime)
    deadline = time.monotonic() + wait_s
    next_note = 0.0
    while not _try_lock(handle):
        current = _read_holder(lock_path)
        if _is_orphan(current, holder):
            say(f"board lock: stopping an orphaned agent ({describe(current)})")
            stop_agent(int(current["pid"]))
            continue
        if time.monotonic() >= deadline:
            handle.close()
            raise BoardBusy(
                f"the board is busy with {describe(current)} for more than {wait_s:.0f} s; "
                "wait for it, stop it, or raise lock_wait_s in the device profile"
            )
        if time.monotonic() >= next_note:
            say(f"board lock: waiting for {describe(current)}")
            next_note = time.monotonic() + 30
        time.sleep(0.5)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({**holder, "pid": os.getpid(), "since": time.time()}))
    handle.flush()
    return handle


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_holder(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _is_orphan(current: dict, holder: dict) -> bool:
    """Same host and project folder: Snakemake's own lock allows one workflow per project and
    the workflow one run per board, so a live agent of ours is left over from an earlier run."""
    owner, mine = current.get("owner") or {}, holder.get("owner") or {}
    same = owner.get("host") == mine.get("host") and owner.get("project") == mine.get("project")
    return bool(same and current.get("pid") and current.get("pid") != os.getpid())


def describe(current: dict) -> str:
    owner = current.get("owner") or {}
    run = "/".join(str(current.get(k, "?")) for k in ("device", "workload", "format"))
    return (
        f"run {run} (agent pid {current.get('pid', '?')}, started from {owner.get('host', '?')}:"
        f"{owner.get('project', '?')})"
    )


def is_agent(pid: int) -> bool:
    """Whether `pid` is an edgebench agent (never signal a process that reused the number)."""
    try:
        return AGENT_MARK in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stop_agent(pid: int) -> None:
    if not is_agent(pid):
        return
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not is_agent(pid):
                return
            time.sleep(0.05)


def start_lifeline() -> None:
    """Stop this process as soon as stdin ends: the host that started it is gone."""

    def watch() -> None:  # os.read, not sys.stdin: no buffer lock held at interpreter exit
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            return
        print("lifeline: the host side closed; stopping the agent", file=sys.stderr, flush=True)
        os._exit(LIFELINE_EXIT)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
