"""A private Docker daemon (Debian's docker.io `dockerd`) for tests and CI: its own socket,
data root and exec root under a persistent cache folder, so the layer cache survives between
runs and nothing clashes with a system daemon. Needs root.

    python -m edgebench.images daemon [--cache DIR]    # prints the DOCKER_HOST to export
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path


class DaemonError(RuntimeError):
    """No daemon can be reached or started here."""


def cache_dir() -> Path:
    """EDGEBENCH_CACHE, else $XDG_CACHE_HOME/edgebench, else ~/.cache/edgebench."""
    if os.environ.get("EDGEBENCH_CACHE"):
        return Path(os.environ["EDGEBENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgebench"


def reachable(host: str | None = None, timeout: float = 20) -> bool:
    env = dict(os.environ, DOCKER_HOST=host) if host else None
    try:
        result = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            capture_output=True, text=True, timeout=timeout, env=env,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def start_daemon(
    root: Path | None = None, wait_s: float = 60
) -> tuple[str, subprocess.Popen | None]:
    """DOCKER_HOST of a running private daemon under `root`, starting one when none answers.

    Returns (host, process); process is None when a daemon was already answering there."""
    root = (root or cache_dir()) / "docker"
    host = f"unix://{root / 'docker.sock'}"
    if reachable(host):
        return host, None
    if shutil.which("dockerd") is None:
        raise DaemonError("no 'dockerd' on PATH (Debian package docker.io)")
    if os.geteuid() != 0:
        raise DaemonError("starting dockerd needs root")
    root.mkdir(parents=True, exist_ok=True)
    (root / "docker.sock").unlink(missing_ok=True)
    log = open(root / "dockerd.log", "a")  # noqa: SIM115  (the daemon keeps it open)
    process = subprocess.Popen(
        [
            "dockerd", "--host", host, "--data-root", str(root / "data"),
            "--exec-root", str(root / "exec"), "--pidfile", str(root / "dockerd.pid"),
            # no bridge and no iptables rules: builds use --network host, conversions none
            "--bridge", "none", "--iptables=false", "--ip-masq=false",
        ],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DaemonError(f"dockerd exited with code {process.returncode}; see {log.name}")
        if reachable(host, timeout=5):
            return host, process
        time.sleep(0.5)
    process.terminate()
    raise DaemonError(f"dockerd did not answer within {wait_s:.0f} s; see {log.name}")


def stop_daemon(process: subprocess.Popen, wait_s: float = 30) -> None:
    """Stop a daemon that start_daemon started (SIGTERM, then SIGKILL after wait_s)."""
    process.terminate()
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
