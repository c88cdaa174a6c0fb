"""The warm server: one process that has imported TensorFlow forks one child per TensorFlow job
(a conversion, a workload build, a reference pass), so such a job no longer pays TensorFlow's
import (4-8 s on this 2-core VM, against 0.1-0.7 s of converting a block).

Every job still runs in a process of its own, forked from the same post-import state, so no job
sees what another did, and each conversion job still converts one format: "only the changed
format reconverts" holds. The server is started by the first job that finds none, listens on a
socket only its user can reach, and leaves after `IDLE_S` without a job. Its socket's name is a
digest of what it imported (the Python executable, the edgebench sources, the environment
variables TensorFlow reads at import), so an edited checkout or another environment gets a
server of its own. Where no server can be started the job runs as before (a fresh process, or in
the Snakemake job's own); under SLURM it always does, so each job stays inside its allocation.

Wire protocol (one job per connection): the client sends one JSON line {target, kwargs, cwd,
env}, `target` a `module:function` of edgebench, with its log's file descriptor attached
(SCM_RIGHTS); the server answers {"pid": N} once forked and {"exit": code, "cpu_s": ...,
"max_rss_mib": ...} when the child ends. A client that goes away (an interrupted job) gets its
child killed.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from importlib import metadata
from pathlib import Path

from edgebench.logs import redirected_to

PACKAGE = Path(__file__).resolve().parents[1]  # edgebench/
PRELOAD = (
    "tensorflow",
    "keras",
    "tf2onnx",
    "edgebench.convert.job",
    "edgebench.workloads.build",
    "edgebench.workloads.layers",
)
DISTRIBUTIONS = ("tensorflow", "keras", "tf2onnx", "numpy", "onnx")
ENV_PREFIXES = ("TF_", "KERAS_", "CUDA_", "OMP_", "PYTHON", "LD_")
IDLE_S = 300.0
SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; the server binds a `.PID` name first
HOME = ""  # the folder the server was started in, first on its sys.path
READY_S = 300.0  # generous: TensorFlow's import took 8 s on this 2-core VM under load


def wanted(config: dict) -> bool:
    """The workflow config's `warm_server` (config/schema.yaml; text true/false is read as the
    boolean at load, edgebench.settings.plan.validate_config)."""
    return config.get("warm_server", True)


def enabled() -> bool:
    """Off under SLURM: the child would run in the server's allocation, not the job's."""
    return "SLURM_JOB_ID" not in os.environ


def fingerprint() -> str:
    """What the server imported: a change to any of it needs a server of its own."""
    digest = hashlib.sha256(sys.executable.encode())
    for distribution in DISTRIBUTIONS:  # an upgrade in this environment
        try:
            digest.update(f"{distribution}={metadata.version(distribution)}".encode())
        except metadata.PackageNotFoundError:
            continue
    for path in sorted(PACKAGE.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}".encode())
    for name in sorted(os.environ):
        if name.startswith(ENV_PREFIXES):
            digest.update(f"{name}={os.environ[name]}".encode())
    return digest.hexdigest()[:16]


def socket_path() -> Path:
    folder = Path(tempfile.gettempdir()) / f"edgebench-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid() or folder.stat().st_mode & 0o077:
        raise PermissionError(f"{folder} must be yours and private (mode 700)")
    path = folder / f"warm-{checkout()}-{fingerprint()}.sock"
    if len(os.fsencode(path)) > SOCKET_PATH_MAX:
        raise OSError(f"the socket path {path} is longer than a Unix socket's; set TMPDIR shorter")
    return path


def checkout() -> str:
    """Which edgebench sources a server runs: the first part of its socket's name, so that
    stopping one checkout's servers leaves another's alone."""
    return hashlib.sha256(str(PACKAGE).encode()).hexdigest()[:8]


# --- client ---------------------------------------------------------------------------------


def run_job(target: str, kwargs: dict, log: Path, warm: bool = True) -> int:
    """`target(**kwargs)` (a `module:function` returning an exit code) with its output in the
    job's log: in a child of the warm server where it can, else in this process."""
    with open(log, "a") as handle:
        code = (
            run_warm(target, kwargs, handle, say=lambda line: say(handle, line)) if warm else None
        )
    if code is None:
        with redirected_to(log):
            code = call(target, kwargs)
    return code


def say(log, line: str) -> None:
    log.write(f"edgebench: {line}\n")
    log.flush()


def call(target: str, kwargs: dict) -> int:
    module, _, function = target.partition(":")
    try:
        return getattr(importlib.import_module(module), function)(**kwargs) or 0
    except Exception:
        traceback.print_exc()
        return 1


def run_warm(target: str, kwargs: dict, log, say=print) -> int | None:
    """Run `target(**kwargs)` in a child of the warm server, its output on `log` (an open
    file); the child's exit code, or None where no server could be reached."""
    if not enabled():
        return None
    try:
        path = socket_path()
        connection = connect(path) or start_and_connect(path, say)
    except OSError as error:
        say(f"warm server unavailable ({error}); running without it")
        return None
    if connection is None:
        return None
    with connection:
        request = {"target": target, "kwargs": kwargs, "cwd": os.getcwd(), "env": dict(os.environ)}
        socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], [log.fileno()])
        replies = connection.makefile("r")
        pid = None
        try:
            for line in replies:
                reply = json.loads(line)
                if "pid" in reply:
                    pid = reply["pid"]
                    say(f"{target} in pid {pid}, forked from the warm server {path.name}")
                elif "exit" in reply:
                    cost = f"{reply['cpu_s']} CPU s, peak RSS {reply['max_rss_mib']} MiB"
                    say(f"pid {pid} ended ({reply['exit']}): {cost}")
                    return reply["exit"]
        except BaseException:  # interrupted: the child must not outlive its job
            if pid is not None:
                _kill(pid)
            raise
    return None  # the server went away mid-job: run it without


def connect(path: Path) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError):
        connection.close()
        return None
    return connection


def start_and_connect(path: Path, say) -> socket.socket | None:
    """Start the server (one per fingerprint: a lock file decides who starts it) and wait for
    its socket, which it binds only once its imports are done."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        connection = connect(path)
        if connection is not None:
            return connection
        path.unlink(missing_ok=True)
        say(f"starting the warm server {path.name} (imports TensorFlow once)")
        server_log = open(path.with_suffix(".log"), "a")  # noqa: SIM115  (the server keeps it)
        process = subprocess.Popen(
            [sys.executable, "-m", "edgebench.warm", "--socket", str(path)],
            stdin=subprocess.DEVNULL, stdout=server_log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        server_log.close()
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            connection = connect(path)
            if connection is not None:
                return connection
            if process.poll() is not None:
                say(f"the warm server exited ({process.returncode}); see {server_log.name}")
                return None
            time.sleep(0.05)
        say(f"the warm server was not ready within {READY_S:.0f} s; running without it")
        return None


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- server ---------------------------------------------------------------------------------


def ready() -> int:
    """A job that does nothing: starts the server where none runs (benchmarks/job_startup.py)."""
    return 0


def serve(path: Path, idle_s: float = IDLE_S) -> None:
    global HOME
    HOME = sys.path[0] if sys.path else ""
    os.chdir(path.parent)  # not the starting project's folder, which may be deleted first
    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except ImportError as error:  # a toolchain without it: its conversions import nothing
            print(f"not preloaded: {module} ({error})", flush=True)
    Server(path).run(idle_s)


class Server:
    """One thread: a selector over the listening socket, each client's connection and each
    child's pidfd."""

    def __init__(self, path: Path):
        self.path = path
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        temporary = path.with_name(f"{path.name}.{os.getpid()}")
        self.listener.bind(str(temporary))
        os.chmod(temporary, 0o600)
        self.listener.listen(64)
        os.replace(temporary, path)  # ready: the socket appears only once it can answer
        self.mine = path.stat()
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.children: dict[int, socket.socket] = {}  # pid -> its client's connection
        self.stopping = False
        print(f"warm server {os.getpid()} ready on {path}", flush=True)

    def run(self, idle_s: float) -> None:
        last_active = time.monotonic()
        try:
            while self.children or (not self.stopping and time.monotonic() - last_active < idle_s):
                for key, _ in self.selector.select(timeout=1.0):
                    last_active = time.monotonic()
                    kind, pid = key.data
                    if kind == "accept":
                        connection, _ = self.listener.accept()
                        self.selector.register(connection, selectors.EVENT_READ, ("request", None))
                    elif kind == "request":
                        self.request(key.fileobj)
                    elif kind == "client":  # the client left (EOF): its child goes too
                        _kill(pid)
                        self.selector.unregister(key.fileobj)
                    else:
                        self.child_ended(key.fileobj, pid)
        finally:
            self.unlink_socket()
            self.listener.close()

    def request(self, connection: socket.socket) -> None:
        self.selector.unregister(connection)
        try:
            message, fds, _, _ = socket.recv_fds(connection, 1 << 20, 1)
            request = json.loads(message)
        except (OSError, ValueError):
            request, fds = {}, []
        if request.get("stop"):  # leave once the running jobs end; a new job starts a new one
            self.stopping = True
            self.selector.unregister(self.listener)
            self.unlink_socket()
        if not fds:
            connection.close()
            return
        pid = os.fork()
        if pid == 0:
            for inherited in (self.listener, self.selector, connection, *self.children.values()):
                inherited.close()  # the child holds only its own client's log
            run_child(request, fds[0])
        os.close(fds[0])
        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        self.children[pid] = connection
        self.selector.register(os.pidfd_open(pid), selectors.EVENT_READ, ("child", pid))
        self.selector.register(connection, selectors.EVENT_READ, ("client", pid))

    def child_ended(self, pidfd: int, pid: int) -> None:
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        connection = self.children.pop(pid)
        if connection.fileno() in self.selector.get_map():
            self.selector.unregister(connection)
        reply = {
            "exit": os.waitstatus_to_exitcode(status),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "max_rss_mib": round(usage.ru_maxrss / 1024, 1),
        }
        try:
            connection.sendall(json.dumps(reply).encode() + b"\n")
        except OSError:
            pass  # the client already left
        connection.close()

    def unlink_socket(self) -> None:
        if self.path.exists() and os.path.samestat(
            self.path.stat(), self.mine
        ):  # not a successor's
            self.path.unlink()


def stop_servers(folder: Path | None = None) -> list[str]:
    """Ask this checkout's warm servers to leave once their running jobs end (`python -m
    edgebench.warm --stop`, and the test session at its end); the sockets it asked."""
    folder = folder or socket_path().parent
    asked = []
    for path in sorted(folder.glob(f"warm-{checkout()}-*.sock")):
        connection = connect(path)
        if connection is not None:
            with connection:
                connection.sendall(json.dumps({"stop": True}).encode() + b"\n")
            asked.append(path.name)
    return asked


def run_child(request: dict, log_fd: int) -> None:
    """In the forked child: become the process the job would have run in."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        if sys.path and sys.path[0] == HOME:  # `-m` put the starting folder first: as fresh
            sys.path[0] = request["cwd"]
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        code = call(request["target"], request["kwargs"])
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # no interpreter teardown: TensorFlow's took ~2 s per job here


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m edgebench.warm", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--socket", type=Path, help="serve on this socket (what a job starts)")
    action.add_argument("--stop", action="store_true", help="stop this checkout's warm servers")
    parser.add_argument("--idle-s", type=float, default=IDLE_S)
    args = parser.parse_args(argv)
    if args.stop:
        asked = stop_servers()
        print(f"asked {len(asked)} warm server(s) to stop: {', '.join(asked) or '-'}")
        return
    serve(args.socket, args.idle_s)


if __name__ == "__main__":
    main()
