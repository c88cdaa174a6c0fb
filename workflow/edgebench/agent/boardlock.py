"""One run per board, held on the board itself, and no agent outliving the host that started it.

The board lock is a file the agent holds with `flock` for its whole life (the kernel releases it
when the process dies, however it dies); the file also says who holds it. It lives in a folder
every user of the board can write (`/run/lock/edgebench` by default, made world-writable and
sticky, like /tmp, on first use), so two logins serialise as two projects do. A new run that
finds it held by a live agent of the same project on the same host stops that agent: the
workflow runs one job per board at a time, so such an agent is an orphan (a dropped link, a
killed Snakemake). An agent of another project, host or user is waited for, up to `lock_wait_s`,
and never overlapped.

The lifeline: the transports keep the agent's stdin open; when the host side goes away (its
process killed, the connection closed), stdin ends and the agent stops at once. Over a network
a dead connection may never close, so a transport can also send heartbeats (any bytes on
stdin): with `timeout_s`, an agent that hears nothing for that long stops itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import select
import signal
import stat
import sys
import threading
import time
from pathlib import Path

AGENT_MARK = b"edgebench_agent"
# the agent's exit statuses that are not a run's own outcome (the host's dispatch reads them)
BOARD_BUSY_EXIT = 73  # another project's run held the board for longer than lock_wait_s
LOCK_REFUSED_EXIT = 74  # this user cannot open the board lock (the board's admin must allow it)
LIFELINE_EXIT = 75  # the host side went away
STOP_GRACE_S = 10.0
NOTE_EVERY_S = 30.0
# where every user of a board sees the board lock (created world-writable and sticky on first
# use in /run/lock, which is such a folder itself on Debian, Ubuntu/L4T and Raspberry Pi OS)
LOCK_DIR = "/run/lock/edgebench"
SHARED_FOLDER_MODE = 0o1777  # every user may add a lock, none may remove another's (as /tmp)
SHARED_FILE_MODE = 0o666  # every user of the board may take and record the lock


class BoardBusy(RuntimeError):
    """Another project's or host's run holds the board for longer than the wait allows."""


class LockRefused(RuntimeError):
    """The board lock cannot be opened by this user: the board's admin must allow it."""


def say_now(text: str) -> None:
    """Print at once: the host shows the wait in the run's log while it lasts, not after."""
    print(text, flush=True)


def hold(path: str, holder: dict, wait_s: float, say=say_now) -> object:
    """Take the board lock at `path` (blocking), recording `holder`; return the open file,
    which must stay referenced for as long as the lock is held."""
    lock_path = Path(os.path.expanduser(path))
    handle = open_shared(lock_path)
    deadline = time.monotonic() + wait_s
    next_note = 0.0
    while not _try_lock(handle):
        current = _read_holder(lock_path)
        pid = int(current.get("pid") or 0)
        if _is_orphan(current, holder) and is_agent(pid):
            say(f"board lock: stopping an orphaned agent ({describe(current)})")
            if stop_agent(pid):
                continue
            say(f"board lock: cannot stop agent pid {pid} (not this user's process); waiting")
        if time.monotonic() >= deadline:
            handle.close()
            raise BoardBusy(
                f"the board is busy with {describe(current)} for more than {wait_s:.0f} s; "
                "wait for it, stop it, or raise lock_wait_s in the device profile"
            )
        if time.monotonic() >= next_note:
            say(f"board lock: waiting for {describe(current)}{_stale_note(current)}")
            next_note = time.monotonic() + NOTE_EVERY_S
        time.sleep(0.5)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({**holder, "pid": os.getpid(), "since": time.time()}))
    handle.flush()
    return handle


def open_shared(lock_path: Path):
    """The lock file, opened for writing without following a link; its folder and the file
    are created on first use, writable by every user of the board."""
    make_shared_folder(lock_path.parent)
    flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        try:
            fd = os.open(lock_path, flags)
        except FileNotFoundError:
            # O_EXCL: never open another user's file with O_CREAT (protected_regular refuses it)
            fd = os.open(lock_path, flags | os.O_CREAT | os.O_EXCL, SHARED_FILE_MODE)
            os.fchmod(fd, SHARED_FILE_MODE)  # whatever the umask
    except FileExistsError:  # another user created it in between
        fd = os.open(lock_path, flags)
    except OSError as error:
        raise LockRefused(refusal(lock_path, error)) from None
    return os.fdopen(fd, "r+")


def make_shared_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        return
    except OSError as error:
        raise LockRefused(refusal(folder, error)) from None
    folder.chmod(SHARED_FOLDER_MODE)


def refusal(path: Path, error: OSError) -> str:
    """Why `path` cannot serve as the board lock, and what the board's admin can do."""
    folder = path if path.is_dir() or not path.parent.exists() else path.parent
    try:
        info = path.lstat()
        found = f" (owner {_user(info.st_uid)}, mode {stat.filemode(info.st_mode)})"
    except OSError:
        found = ""
    return (
        f"cannot use the board lock {path}{found} as user {_user(os.getuid())}: "
        f"{error.strerror or error}. Every user of the board must be able to write it: "
        f"the board's admin can run 'sudo install -d -m 1777 {folder}' (and 'sudo chmod 666 "
        f"{path}' for a lock file made by hand), or set lock_dir in the device profile to a "
        "folder every user of the board can write"
    )


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


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


def _stale_note(current: dict) -> str:
    pid = int(current.get("pid") or 0)
    if pid and not is_agent(pid):
        return (
            f"; its recorded pid {pid} is no longer an edgebench agent here, so the lock is "
            "held by a process it left behind or by one in another process namespace"
        )
    return ""


def describe(current: dict) -> str:
    owner = current.get("owner") or {}
    run = "/".join(str(current.get(k, "?")) for k in ("device", "workload", "format"))
    user = f", user {owner['user']}" if owner.get("user") else ""
    return (
        f"run {run} (agent pid {current.get('pid', '?')}, started from {owner.get('host', '?')}:"
        f"{owner.get('project', '?')}{user})"
    )


def is_agent(pid: int) -> bool:
    """Whether `pid` is an edgebench agent (never signal a process that reused the number)."""
    try:
        return AGENT_MARK in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def stop_agent(pid: int) -> bool:
    """Stop the agent `pid`; False when it cannot be (another user's process)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            if not is_agent(pid):
                return True
            time.sleep(0.05)
    return not is_agent(pid)


def start_lifeline(timeout_s: float | None = None) -> None:
    """Stop this process as soon as stdin ends (the host that started it is gone) or, with
    `timeout_s`, once no heartbeat has arrived on it for that long (the connection is dead)."""

    def stop(why: str) -> None:
        print(f"lifeline: {why}; stopping the agent", file=sys.stderr, flush=True)
        os._exit(LIFELINE_EXIT)

    def watch() -> None:  # os.read, not sys.stdin: no buffer lock held at interpreter exit
        heard = time.monotonic()
        while True:
            wait = None if timeout_s is None else max(0.0, heard + timeout_s - time.monotonic())
            try:
                ready, _, _ = select.select([0], [], [], wait)
                if ready and not os.read(0, 65536):
                    stop("the host side closed")
            except OSError:
                return
            if ready:
                heard = time.monotonic()
            elif time.monotonic() - heard >= timeout_s:
                stop(f"no heartbeat from the host for {timeout_s:g} s (the connection is dead)")

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
