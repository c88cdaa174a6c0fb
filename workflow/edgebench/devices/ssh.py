"""The ssh transport: the OpenSSH client, so ~/.ssh/config aliases, keys, agents and ProxyJump
work as they do for the user.

Never waits on a prompt (BatchMode), never accepts an unknown host key (StrictHostKeyChecking),
reuses one ControlMaster connection per device across a workflow's jobs (started on its own,
with its log kept, so that ssh's words survive a master that dies), and builds every remote
command from argument lists with each value quoted (shlex). A connection that drops is retried
with exponential backoff; an agent left running by a dropped connection stops itself once its
heartbeats stop, or is stopped before the job starts again.

On the board, under `workdir`, each run has a folder of its own and shares only what cannot
collide (content-addressed):

    agent/<digest>/edgebench_agent/     the agent package, one folder per version of it
    files/<sha256>                      models and inputs, by content
    runs/<host>-<project>/<workload>/<format>/<run id>/   job.json, links to files/, out/
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from edgebench.agent.boardlock import LOCK_DIR
from edgebench.devices.staging import AGENT_PACKAGE
from edgebench.devices.transport import LOCK_DIR_OPTION, Transport
from edgebench.fileio import sha256_file

SSH_FAILED = 255  # ssh's own exit status for connection and authentication errors

REMOTE_HASHES = (
    "import hashlib, os, sys\n"
    "for name in sys.argv[1:]:\n"
    "    ok = os.path.isfile(name)\n"
    "    print(hashlib.sha256(open(name, 'rb').read()).hexdigest() if ok else '-')\n"
)
# GNU date answers without starting Python, which keeps the round trip short
REMOTE_CLOCK = "date +%s%N"
LIFELINE_TIMEOUT_S = 30.0  # an agent that hears no heartbeat for this long stops itself
HEARTBEATS_PER_TIMEOUT = 6
# a multiplexed session's own lines, which say nothing about why the connection failed
MUX_NOISE = ("mux_client", "control socket", "controlsocket", "shared connection to")


class SshError(RuntimeError):
    """The device could not be reached or the connection broke."""


class HostKeyError(SshError):
    """The device's host key is not in known_hosts, or changed: never accepted automatically."""


CHANGED_KEY = "remote host identification has changed"
OFFENDING_KEY = re.compile(r"Offending \S+ key in (\S+):(\d+)")
NEW_KEY = re.compile(
    r"fingerprint for the (\S+) key sent by the remote host is\s+(\S+?)\.?(?:\s|$)",
    re.IGNORECASE,
)


def _integer(minimum: int, description: str = "") -> dict:
    return {"description": description, "type": "integer", "minimum": minimum}


class SshTransport(Transport):
    name = "ssh"
    stages_agent = True
    required = ("host",)
    options = {
        "host": {
            "description": "An alias from ~/.ssh/config, a host name, or user@host.",
            "type": "string",
            "pattern": "^[A-Za-z0-9_][A-Za-z0-9_.@:%-]*$",
        },
        "port": {"description": "The TCP port (default 22).", "type": "integer", "minimum": 1,
                 "maximum": 65535},
        "python": {
            "description": "The board's Python interpreter (default python3).",
            "type": "string",
            "pattern": "^[A-Za-z0-9_./~+-]+$",
        },
        "workdir": {
            "description": "Folder on the device (relative to the login folder unless absolute).",
            "type": "string",
            "pattern": "^[A-Za-z0-9_./~+-]+$",
        },
        "ssh_config": {
            "description": "An ssh_config file to use instead of ~/.ssh/config (ssh -F).",
            "type": "string",
        },
        "ssh_options": {
            "description": "Extra ssh -o options, e.g. ProxyJump=gateway.",
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Za-z]+=[^\\s]+$"},
        },
        "reuse_connection": {"description": "Share one master connection.", "type": "boolean"},
        "connect_timeout_s": _integer(1, "ssh's ConnectTimeout (default 10)."),
        "alive_interval_s": _integer(1, "ssh's ServerAliveInterval (default 5)."),
        "alive_count": _integer(1, "ssh's ServerAliveCountMax (default 3)."),
        "retries": _integer(0, "Attempts after the first when the link breaks."),
        "backoff_s": {
            "description": "First pause before a retry; doubles each time.",
            "type": "number",
            "minimum": 0,
        },
        "lock_dir": LOCK_DIR_OPTION,
        "lifeline_timeout_s": {
            "description": "An agent that hears no heartbeat from the host for this long (a "
            "dead connection) stops itself (default 30; heartbeats go every sixth of it).",
            "type": "number",
            "minimum": 3,
        },
        "allow_board_changes": {
            "description": "Opt-in for pre_run commands that change the board (nvpmodel, "
            "jetson_clocks).",
            "type": "boolean",
        },
        "pre_run": {
            "description": "Commands run before each run (argument lists), only with "
            "allow_board_changes.",
            "type": "array",
            "items": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        },
    }  # fmt: skip

    @classmethod
    def board_id(cls, profile: dict) -> str:
        """Host name and port as ssh resolves them: aliases of one address are one board."""
        return board_address(profile)

    def __init__(self, profile: dict):
        super().__init__(profile)
        self.device = profile["name"]
        self.host = profile["host"]
        self.python = profile.get("python", "python3")
        self.workdir = profile.get("workdir", "edgebench-work").removeprefix("~/")
        self.retries = int(profile.get("retries", 3))
        self.backoff_s = float(profile.get("backoff_s", 2.0))
        self.lifeline_timeout_s = float(profile.get("lifeline_timeout_s", LIFELINE_TIMEOUT_S))

    # --- the ssh command line -------------------------------------------------------------

    def ssh_options(self, control: bool = True) -> list[str]:
        profile = self.profile
        options = [
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", f"ConnectTimeout={profile.get('connect_timeout_s', 10)}",
            "-o", f"ServerAliveInterval={profile.get('alive_interval_s', 5)}",
            "-o", f"ServerAliveCountMax={profile.get('alive_count', 3)}",
        ]  # fmt: skip
        if control:
            options += self.control_options()
        if profile.get("port"):
            options += ["-p", str(profile["port"])]
        if profile.get("ssh_config"):
            options += ["-F", str(Path(profile["ssh_config"]).expanduser())]
        for option in profile.get("ssh_options", []):
            options += ["-o", option]
        return options

    def control_options(self) -> list[str]:
        """The shared master connection's socket (`ensure_master` starts it); without a live
        master, ssh connects on its own."""
        if not self.reuse_connection:
            return ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
        return ["-o", "ControlMaster=no", "-o", f"ControlPath={self.control_path()}"]

    @property
    def reuse_connection(self) -> bool:
        return bool(self.profile.get("reuse_connection", True))

    def control_path(self) -> str:
        """One socket per way of reaching the device, named by what decides the connection."""
        profile = self.profile
        key = json.dumps([self.host, profile.get("port"), profile.get("ssh_config"),
                          profile.get("ssh_options", [])])  # fmt: skip
        return f"{control_dir()}/{hashlib.sha256(key.encode()).hexdigest()[:20]}"

    def ensure_master(self) -> None:
        """Start the master connection unless one is alive. It runs on its own with its log in
        a file (`-E`): a master that dies later takes ssh's reason with it otherwise, and the
        sessions that shared it only see status 255."""
        if not self.reuse_connection:
            return
        socket_path = self.control_path()
        with open(f"{socket_path}.lock", "w") as guard:  # one job starts it, the others wait
            fcntl.flock(guard, fcntl.LOCK_EX)
            check = ["ssh", "-o", f"ControlPath={socket_path}", "-O", "check", "--", self.host]
            if subprocess.run(check, capture_output=True).returncode == 0:
                return
            log = Path(f"{socket_path}.log")
            log.write_text("")
            master = [
                "ssh", *self.ssh_options(control=False), "-M", "-N", "-f", "-E", str(log),
                "-o", f"ControlPath={socket_path}", "-o", "ControlPersist=120", "--", self.host,
            ]  # fmt: skip
            started = subprocess.run(master, capture_output=True, stdin=subprocess.DEVNULL)
        if started.returncode != 0:
            raise self.connection_error(started.stderr.decode(errors="replace"))

    def master_log(self) -> str:
        """What the master connection's ssh said (the reason it failed or died)."""
        if not self.reuse_connection:
            return ""
        try:
            return Path(f"{self.control_path()}.log").read_text(errors="replace")
        except OSError:
            return ""

    def command(self, script: str) -> list[str]:
        return ["ssh", *self.ssh_options(), "--", self.host, script]

    def run_python(self, code: str, *args: str) -> subprocess.CompletedProcess:
        """A short Python snippet in the board's interpreter (the board probe); text output."""
        result = self.remote(shlex.join([self.python, "-c", code, *args]), timeout=120)
        return subprocess.CompletedProcess(
            result.args,
            result.returncode,
            result.stdout.decode(errors="replace"),
            result.stderr.decode(errors="replace"),
        )

    def remote(self, script: str, *, stdin=None, timeout=None) -> subprocess.CompletedProcess:
        """Run a shell snippet on the device; connection failures raise SshError."""
        self.ensure_master()
        result = subprocess.run(
            self.command(script), input=stdin, capture_output=True, timeout=timeout
        )
        if result.returncode == SSH_FAILED:
            raise self.connection_error(result.stderr.decode(errors="replace"))
        return result

    def connection_error(self, stderr: str) -> SshError:
        """ssh's own words (the agent's output goes to stdout, never here) and what to do; a
        session of a master that died says nothing itself, so the master's log speaks."""
        detail = last_words(stderr)
        if not detail:
            stderr = f"{stderr}\n{self.master_log()}"
            detail = last_words(stderr) or "ssh exited with status 255 and said nothing"
        if CHANGED_KEY in stderr.lower():
            return self.changed_key_error(stderr)
        if "host key verification failed" in stderr.lower():
            hostname, port, known_hosts = self.resolved_address()
            return HostKeyError(
                f"device {self.device!r}: the host key of {self.host} ({hostname}:{port}) is not "
                f"in {known_hosts}, and edgebench never accepts an unknown key by itself. Check "
                f"the key with the board's owner, then add it: ssh-keyscan -p {port} "
                f"{shlex.quote(hostname)} >> {shlex.quote(known_hosts)}"
            )
        return SshError(f"device {self.device!r}: ssh to {self.host} failed: {detail}")

    def changed_key_error(self, stderr: str) -> HostKeyError:
        hostname, port, known_hosts = self.resolved_address()
        offending = OFFENDING_KEY.search(stderr)
        where = f"{offending.group(1)} line {offending.group(2)}" if offending else known_hosts
        key_file = offending.group(1) if offending else known_hosts
        entry = hostname if port == "22" else f"[{hostname}]:{port}"
        new_key = NEW_KEY.search(stderr)
        presented = (
            f"The board now presents the {new_key.group(1)} key {new_key.group(2)}. "
            if new_key
            else ""
        )
        return HostKeyError(
            f"device {self.device!r}: the host key of {self.host} ({hostname}:{port}) has CHANGED "
            f"since it was recorded in {where}. Either the board was reinstalled (new keys) or "
            f"someone is intercepting the connection; edgebench stops here. {presented}If the "
            "board's owner confirms that fingerprint (on the board: ssh-keygen -lf "
            "/etc/ssh/ssh_host_*_key.pub), remove the old key with: ssh-keygen -R "
            f"{shlex.quote(entry)} -f {shlex.quote(key_file)}; then add the new one with: "
            f"ssh-keyscan -p {port} {shlex.quote(hostname)} >> {shlex.quote(key_file)}"
        )

    def resolved_address(self) -> tuple[str, str, str]:
        """HostName, Port and the first UserKnownHostsFile after the user's ssh config."""
        command = ["ssh", "-G", *self.ssh_options(control=False), "--", self.host]
        result = subprocess.run(command, capture_output=True)
        settings = dict(
            line.split(" ", 1) for line in result.stdout.decode().splitlines() if " " in line
        )
        known_hosts = (settings.get("userknownhostsfile") or "~/.ssh/known_hosts").split()[0]
        return settings.get("hostname", self.host), settings.get("port", "22"), known_hosts

    def board_lock(self, board: str) -> str:
        """In a folder every user of the board sees (`lock_dir`), so two logins, two projects
        and two hosts serialise on it; named by the profile's `board` key, else one lock for
        the whole machine, however the host reaches it (aliases, ports, users)."""
        return f"{self.profile.get('lock_dir', LOCK_DIR)}/board-{board}.lock"

    # --- one run --------------------------------------------------------------------------

    def run_subdir(self, stage: Path) -> str:
        """The run's own folder: its project (host and folder), its workload, format and id."""
        job = json.loads((stage / "job.json").read_text())
        owner = job.get("owner") or {}
        project = hashlib.sha256(str(owner.get("project", "")).encode()).hexdigest()[:12]
        host = re.sub(r"[^\w.-]", "_", str(owner.get("host", "host")))
        run_id = job.get("run_id") or stage.name
        return f"runs/{host}-{project}/{job['workload']}/{job['format']}/{run_id}"

    def run_dir(self, stage: Path) -> str:
        return f"{self.workdir}/{self.run_subdir(stage)}"

    def agent_dir(self, stage: Path) -> str:
        return f"{self.workdir}/agent/{agent_digest(stage)}"

    def run(self, stage: Path, log) -> int:
        """Push, run and pull back, retrying with backoff when the connection breaks."""
        for attempt in range(self.retries + 1):
            try:
                return self.attempt(stage, log)
            except HostKeyError:
                raise
            except (SshError, subprocess.TimeoutExpired) as error:
                if attempt == self.retries:
                    raise SshError(f"{error} (after {attempt + 1} attempts)") from error
                pause = self.backoff_s * 2**attempt
                log.write(f"attempt {attempt + 1} failed: {error}; retrying in {pause:.0f} s\n")
                log.flush()
                time.sleep(pause)
        raise AssertionError("unreachable")

    def attempt(self, stage: Path, log) -> int:
        self.record_clock_offset(stage / "job.json")
        self.push(stage, log)
        self.run_pre_commands(log)
        code = self.execute(stage, log)
        self.pull(stage)
        return code

    def record_clock_offset(self, job_file: Path) -> None:
        """Device clock minus host clock, from the round trip with the smallest delay."""
        samples = []
        for _ in range(3):
            sent = time.time_ns()
            reply = self.remote(REMOTE_CLOCK, timeout=60)
            received = time.time_ns()
            if reply.returncode != 0 or not reply.stdout.strip().isdigit():
                raise SshError(f"device {self.device!r}: cannot read the clock of {self.host}")
            device_ns = int(reply.stdout)
            samples.append((received - sent, device_ns - (sent + received) // 2))
        round_trip, offset = min(samples)
        job = json.loads(job_file.read_text())
        job["host_clock"] = {"offset_ns": offset, "round_trip_ns": round_trip}
        job_file.write_text(json.dumps(job, indent=2))

    def push(self, stage: Path, log) -> None:
        """Send what the board lacks. The agent (one folder per version) and the models and
        inputs (by content) stay on the board for later runs, whatever project sent them;
        the run's own folder gets job.json and links to those files."""
        run = self.run_subdir(stage)
        shared, links = {}, []  # path on the device (relative to the workdir) -> local file
        agent = f"agent/{agent_digest(stage)}"
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            relative = path.relative_to(stage).as_posix()
            if relative == "job.json":
                continue
            if relative.startswith(f"{AGENT_PACKAGE}/"):
                shared[f"{agent}/{relative}"] = path
                continue
            stored = f"files/{sha256_file(path)}"
            shared[stored] = path
            links.append((stored, f"{run}/{relative}"))
        hash_files = shlex.join([self.python, "-c", REMOTE_HASHES, *shared])
        hashes = self.remote(f"{self.in_workdir()} && {hash_files}", timeout=120)
        present = hashes.stdout.decode().split()
        if hashes.returncode != 0 or len(present) != len(shared):
            raise SshError(f"device {self.device!r}: {self.python} does not run on {self.host}")
        missing = [
            (remote, path)
            for (remote, path), digest in zip(shared.items(), present, strict=True)
            if digest != sha256_file(path)
        ]
        log.write(f"push: {len(missing)} of {len(shared)} files to {self.host}:{self.workdir}\n")
        self.send_files([*missing, (f"{run}/job.json", stage / "job.json")], links)

    def in_workdir(self) -> str:
        workdir = shlex.quote(self.workdir)
        return f"mkdir -p {workdir} && cd {workdir}"

    def send_files(self, files: list[tuple[str, Path]], links: list[tuple[str, str]]) -> None:
        """One tar stream, unpacked aside and each file renamed into place (a run reading
        an older copy keeps it), then the run's links to the shared files."""
        moves = [f'mkdir -p {shlex.quote(os.path.dirname(remote))} && mv -f "$incoming"/'
                 f"{shlex.quote(remote)} {shlex.quote(remote)}" for remote, _ in files]  # fmt: skip
        linked = [
            f"mkdir -p {shlex.quote(os.path.dirname(to))} && {{ ln -f {shlex.quote(stored)} "
            f"{shlex.quote(to)} 2>/dev/null || cp {shlex.quote(stored)} {shlex.quote(to)}; }}"
            for stored, to in links
        ]
        script = " && ".join([
            self.in_workdir(), "incoming=$(mktemp -d .incoming.XXXXXX)",
            "trap 'rm -rf \"$incoming\"' EXIT", 'tar -xf - -C "$incoming"', *moves, *linked,
        ])  # fmt: skip
        with tempfile.TemporaryFile() as archive:
            with tarfile.open(fileobj=archive, mode="w") as tar:
                for remote, path in files:
                    tar.add(path, arcname=remote)
            archive.seek(0)
            result = self.remote(script, stdin=archive.read(), timeout=600)
        if result.returncode != 0:
            detail = result.stderr.decode(errors="replace")[-300:]
            raise SshError(f"device {self.device!r}: unpacking on {self.host} failed: {detail}")

    def run_pre_commands(self, log) -> None:
        commands = self.profile.get("pre_run", [])
        if not commands or not self.profile.get("allow_board_changes", False):
            return
        for argv in commands:
            result = self.remote(shlex.join(argv), timeout=300)
            log.write(f"pre-run {shlex.join(argv)}: exit {result.returncode}\n")
            if result.returncode != 0:
                raise RuntimeError(f"device {self.device!r}: pre-run {shlex.join(argv)} failed")

    def execute(self, stage: Path, log) -> int:
        """Run the agent; its output (stdout and stderr) goes to the log, ssh's own errors
        stay apart. Its stdin is the lifeline: it stops when this side goes away, and it gets
        a heartbeat, so that it also stops when the connection dies without closing. The
        board lock (held by the agent) stops or waits for any earlier agent."""
        run_dir = shlex.quote(self.run_dir(stage))
        agent = shlex.join([self.python, "-m", AGENT_PACKAGE, "job.json"])
        agent_dir = self.agent_dir(stage)
        relative_to_login = "" if agent_dir.startswith("/") else '"$PWD"/'
        script = (
            f"agent_path={relative_to_login}{shlex.quote(agent_dir)} && cd {run_dir} && "
            # not the shell's last command, so never exec'd: a signal that kills the agent is
            # its exit status (128 + N), not an ssh failure (255)
            f'PYTHONPATH="$agent_path" {agent} 2>&1; exit $?'
        )
        log.write(f"$ ssh {self.host} {script}\n")
        log.flush()
        self.ensure_master()
        process = subprocess.Popen(
            self.command(script), stdin=subprocess.PIPE, stdout=log, stderr=subprocess.PIPE
        )
        done = threading.Event()
        beating = threading.Thread(target=self.heartbeat, args=(process, done), daemon=True)
        beating.start()
        try:
            stderr = process.stderr.read().decode(errors="replace")
            code = process.wait()
        finally:
            done.set()
            beating.join()
            process.stdin.close()
        log.write(stderr)
        if code == SSH_FAILED:
            raise self.connection_error(stderr)
        return code

    def heartbeat(self, process: subprocess.Popen, done: threading.Event) -> None:
        """A byte on the agent's stdin every timeout/6 seconds until the run ends."""
        while not done.wait(self.lifeline_timeout_s / HEARTBEATS_PER_TIMEOUT):
            try:
                process.stdin.write(b"\n")
                process.stdin.flush()
            except (BrokenPipeError, ValueError):
                return

    def pull(self, stage: Path) -> None:
        out = stage / "out"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        script = f"cd {shlex.quote(self.run_dir(stage))}/out 2>/dev/null && tar -cf - . || true"
        result = self.remote(script, timeout=600)
        if result.stdout:
            with tempfile.TemporaryFile() as archive:
                archive.write(result.stdout)
                archive.seek(0)
                with tarfile.open(fileobj=archive) as tar:
                    tar.extractall(out, filter="data")

    def cleanup(self, stage: Path) -> None:
        """Remove this run's folder on the device, and nothing else (another run's folder, the
        shared agent and files stay); then the stage here."""
        try:
            self.remote(shlex.join(["rm", "-rf", self.run_dir(stage)]), timeout=60)
        except (SshError, subprocess.TimeoutExpired):
            pass  # the results are safe on the host; a leftover folder is harmless
        shutil.rmtree(stage, ignore_errors=True)


def agent_digest(stage: Path) -> str:
    """The staged agent's version: a hash of its files' names and contents."""
    digest = hashlib.sha256()
    for path in sorted((stage / AGENT_PACKAGE).rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(stage).as_posix()}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()[:16]


def last_words(stderr: str) -> str:
    """ssh's last line that says something (not a banner of @, not a multiplexing note)."""
    lines = [
        line.strip()
        for line in stderr.strip().splitlines()
        if line.strip("@ \t\r") and not line.strip().lower().startswith(MUX_NOISE)
    ]
    return lines[-1] if lines else ""


def board_address(profile: dict) -> str:
    """The board's host name and port as the ssh config resolves them (`ssh -G`): two aliases,
    users or spellings of one address are one board."""
    options = json.dumps([profile["host"], profile.get("port"), profile.get("ssh_config"),
                          profile.get("ssh_options", [])])  # fmt: skip
    return _resolved(options)


@functools.cache
def _resolved(options: str) -> str:
    host, port, ssh_config, ssh_options = json.loads(options)
    profile = {"name": host, "host": host, "port": port, "ssh_config": ssh_config,
               "ssh_options": ssh_options}  # fmt: skip
    hostname, resolved_port, _ = SshTransport(profile).resolved_address()
    return f"{hostname}:{resolved_port}"


def control_dir() -> str:
    """A short, private folder for ControlMaster sockets (unix socket paths are limited to
    ~100 bytes). Its name is predictable, so one that someone else made is refused."""
    path = Path(tempfile.gettempdir()) / f"edgebench-ssh-{os.getuid()}"
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SshError(
            f"{path} exists but is not a folder owned by you (uid {os.getuid()}); another user "
            "may be trying to intercept the ssh connections: remove it and run again"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(0o700)
    return str(path)
