"""A private Docker daemon (Debian's docker.io `dockerd`): its own data root and exec root under
a persistent cache folder, so the layer cache survives between runs and nothing clashes with a
system daemon, and its socket at /run/edgebench/docker.sock, owned by the `docker` group, so
that users in that group use it without root. Starting and stopping it needs root.

    sudo python -m edgebench.images daemon [--cache DIR] [--socket PATH]   # prints DOCKER_HOST
    sudo python -m edgebench.images stop [--cache DIR]
"""

from __future__ import annotations

import grp
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

SOCKET = Path("/run/edgebench/docker.sock")
GROUP = "docker"
SOCKET_PATH_MAX = 107


class DaemonError(RuntimeError):
    """No daemon can be reached, started or stopped here."""


def cache_dir() -> Path:
    """EDGEBENCH_CACHE, else $XDG_CACHE_HOME/edgebench, else ~/.cache/edgebench."""
    if os.environ.get("EDGEBENCH_CACHE"):
        return Path(os.environ["EDGEBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgebench"


def daemon_root(cache: Path | None = None) -> Path:
    return Path(cache or cache_dir()) / "docker"


def docker_info(host: str | None = None, timeout: float = 20) -> str | None:
    """The daemon's data root when a daemon answers at `host` (None: DOCKER_HOST, else
    docker's default), else None."""
    env = dict(os.environ, DOCKER_HOST=host) if host else None
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.DockerRootDir}}"],
            capture_output=True, text=True, timeout=timeout, env=env,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def reachable(host: str | None = None, timeout: float = 20) -> bool:
    return docker_info(host, timeout) is not None


def find_host() -> str | None:
    """The DOCKER_HOST to use: DOCKER_HOST if set; else docker's default daemon if it answers
    (None); else edgebench's private daemon if it answers (sudo drops DOCKER_HOST, so a
    `sudo python -m edgebench.images base` finds the daemon the user exported). DaemonError
    when none answers."""
    if os.environ.get("DOCKER_HOST"):
        host = os.environ["DOCKER_HOST"]
        if reachable(host):
            return host
        raise DaemonError(
            f"no Docker daemon answers at DOCKER_HOST={host}; start one with "
            "`sudo .venv/bin/python -m edgebench.images daemon`"
        )
    if reachable():
        return None
    private = f"unix://{SOCKET}"
    if reachable(private):
        return private
    raise DaemonError(
        f"no Docker daemon answers (not docker's default, not {private}); start one with "
        "`sudo .venv/bin/python -m edgebench.images daemon` and export the DOCKER_HOST it "
        "prints (under sudo, keep it with `sudo --preserve-env=DOCKER_HOST ...`)"
    )


def group_id(name: str = GROUP) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def start_daemon(
    cache: Path | None = None, socket: Path | None = None, wait_s: float = 60
) -> tuple[str, subprocess.Popen | None]:
    """DOCKER_HOST of a running private daemon with its data under `cache`, starting one when
    none answers at `socket` (default /run/edgebench/docker.sock).

    Returns (host, process); process is None when the daemon was already answering there."""
    root = daemon_root(cache)
    socket = Path(socket or SOCKET)
    host = f"unix://{socket}"
    running = docker_info(host)
    if running is not None:
        if Path(running).resolve() != (root / "data").resolve():
            raise DaemonError(
                f"a Docker daemon already answers at {socket} with its data in {running}, not "
                f"{root / 'data'}; use it, stop it first (`sudo .venv/bin/python -m "
                "edgebench.images stop --cache ...`) or give another --socket"
            )
        return host, None
    if shutil.which("dockerd") is None:
        raise DaemonError("no 'dockerd' on PATH (Debian package docker.io)")
    longest = root / "exec/containerd/containerd.sock.ttrpc"  # a unix socket: 107 bytes at most
    if len(str(longest)) > SOCKET_PATH_MAX or len(str(socket)) > SOCKET_PATH_MAX:
        raise DaemonError(
            f"the daemon's sockets under {root} (or {socket}) would be longer than "
            f"{SOCKET_PATH_MAX} characters, the limit of a unix socket path; give a shorter "
            "--cache (or EDGEBENCH_CACHE) or --socket"
        )
    if os.geteuid() != 0:
        raise DaemonError(
            "starting dockerd needs root: `sudo .venv/bin/python -m edgebench.images daemon`"
        )
    root.mkdir(parents=True, exist_ok=True)
    socket.parent.mkdir(parents=True, exist_ok=True)
    socket.parent.chmod(0o755)  # users in the docker group must reach the socket
    socket.unlink(missing_ok=True)
    group = ["--group", GROUP] if group_id() is not None else []
    log = open(root / "dockerd.log", "a")  # noqa: SIM115  (the daemon keeps it open)
    process = subprocess.Popen(
        [
            "dockerd", "--host", host, *group, "--data-root", str(root / "data"),
            "--exec-root", str(root / "exec"), "--pidfile", str(root / "dockerd.pid"),
            # no bridge and no iptables rules: builds use --network host, conversions none
            "--bridge", "none", "--iptables=false", "--ip-masq=false",
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and process.poll() is None:
        if reachable(host, timeout=5):
            return host, process
        time.sleep(0.5)
    if process.poll() is None:
        stop_daemon(process=process)
        why = f"did not answer within {wait_s:.0f} s"
    else:
        why = f"exited with code {process.returncode}"
    unmount_under([root / "exec", root / "data"])  # what a daemon that failed to start left
    raise DaemonError(f"dockerd {why}; see {log.name}")


def dockerd_flags(pid: int) -> dict[str, str] | None:
    """The --flag value pairs of a running dockerd, None when `pid` is not one."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    if not command or Path(command[0]).name != "dockerd":
        return None
    return {flag: value for flag, value in zip(command, command[1:], strict=False)}


def find_daemon(cache: Path | None = None, socket: Path | None = None) -> int | None:
    """The pid of the private dockerd: the one whose pidfile is in `cache` when given, else the
    one listening at `socket` (default /run/edgebench/docker.sock)."""
    if cache is not None:
        pidfile = daemon_root(cache) / "dockerd.pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        flags = dockerd_flags(pid)
        return pid if flags and flags.get("--pidfile") == str(pidfile) else None
    host = f"unix://{Path(socket or SOCKET)}"
    for entry in Path("/proc").iterdir():
        flags = dockerd_flags(int(entry.name)) if entry.name.isdigit() else None
        if flags and host in (flags.get("--host"), flags.get("-H")) and alive(int(entry.name)):
            return int(entry.name)
    return None


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def mounts_under(folders: list[Path]) -> list[str]:
    """Mount points at or under the folders (what a daemon leaves: exec/netns/default, the
    data root), deepest first."""
    found = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), line.split()[4])
        for folder in folders:
            if point == str(folder) or point.startswith(f"{folder}/"):
                found.add(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def unmount_under(folders: list[Path]) -> None:
    for point in mounts_under(folders):
        result = subprocess.run(["umount", point], capture_output=True, text=True)
        if result.returncode != 0:
            subprocess.run(["umount", "--lazy", point], capture_output=True)


def stop_daemon(
    cache: Path | None = None,
    process: subprocess.Popen | None = None,
    socket: Path | None = None,
    wait_s: float = 30,
) -> bool:
    """Stop the private daemon (the one `process` is; else the one whose data is in `cache`;
    else the one listening at `socket`): SIGTERM, SIGKILL after wait_s, then remove what it
    leaves: the mounts under its exec and data roots, its socket and pidfile. True when a
    daemon was running."""
    pid = process.pid if process is not None else find_daemon(cache, socket)
    if pid is None:
        return False
    flags = dockerd_flags(pid) or {}
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while alive(pid) and (process is None or process.poll() is None):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + wait_s
        time.sleep(0.2)
    if process is not None:
        process.wait()
    unmount_under([Path(flags[f]) for f in ("--exec-root", "--data-root") if flags.get(f)])
    host = flags.get("--host") or flags.get("-H") or ""
    if host.startswith("unix://"):
        Path(host.removeprefix("unix://")).unlink(missing_ok=True)
    if flags.get("--pidfile"):
        Path(flags["--pidfile"]).unlink(missing_ok=True)
    return True
