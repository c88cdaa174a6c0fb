"""A real one-node SLURM cluster for the tests and benchmarks/: Debian's munge, slurmctld and
slurmd, started on private ports with private state folders, this machine as its only node.

No accounting database: the pinned executor plugin (snakemake-executor-plugin-slurm 2.8.0)
asks `squeue` for job states when told `--slurm-status-command squeue` and MinJobAge is at
least three times its first status check (here MinJobAge=3600); `sacct` is asked otherwise only
to guess an account, which fails here, and the plugin then submits without one (a warning; its
`--slurm-no-account` setting is not read by 2.8.0). So slurmdbd and MariaDB are not started.
The node is this machine as `slurmd -C` sees it (CPUs, sockets, RealMemory).

Settings that work in a container without cgroups: processes tracked by their parents
(proctrack/linuxproc), no task binding (task/none), memory sampled every second from /proc
(jobacct_gather/linux) and a step over its `--mem` killed (JobAcctGatherParams=OverMemoryKill):
its log then says `exceeded memory limit (USED > LIMIT), being killed`.

Nothing outside `root` is written, so clusters of two sessions can run side by side: clients
find the cluster through SLURM_CONF (`Cluster.env`). One hole needs a wrapper: inside a job
the plugin runs the rule through a nested `srun` after removing every `SLURM_*` variable,
SLURM_CONF included (snakemake-executor-plugin-slurm-jobstep 0.6.1), so that `srun` would look
for /etc/slurm/slurm.conf. `Cluster.variables` puts first on PATH an `srun` that sets
SLURM_CONF back and runs the real one.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from edgebench.testing.boards import free_port

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
DAEMONS = {name: f"/usr/sbin/{name}" for name in ("munged", "slurmctld", "slurmd")}
CLIENTS = ("sbatch", "squeue", "scancel", "sinfo", "srun")


def missing() -> str | None:
    """Why no cluster can be started here, or None when one can."""
    absent = [path for path in DAEMONS.values() if not Path(path).exists()]
    absent += [name for name in CLIENTS if shutil.which(name) is None]
    if absent:
        return f"needs Debian's packages {' '.join(PACKAGES)} (missing: {', '.join(absent)})"
    if os.geteuid() != 0:
        return "needs root: slurmd starts jobs as their user and munged signs as root"
    return None


def this_node() -> dict[str, str]:
    """This machine as slurmd sees it (`slurmd -C`): NodeName, CPUs, sockets, RealMemory."""
    output = subprocess.run(
        [DAEMONS["slurmd"], "-C"], capture_output=True, text=True, check=True
    ).stdout
    fields = dict(item.split("=", 1) for item in output.split("\n", 1)[0].split())
    return {key: value for key, value in fields.items() if key != "UpTime"}


class Cluster:
    """munged, slurmctld and slurmd under `root`; one partition `main` holding this node."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "slurm.conf"
        self.munge_socket = root / "munge" / "munge.socket"
        self.node = this_node()
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """The environment for commands that use this cluster."""
        return {**os.environ, **self.variables}

    @property
    def variables(self) -> dict[str, str]:
        """What that environment changes: SLURM_CONF, and PATH with the `srun` wrapper first."""
        path = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', os.defpath)}"
        return {"SLURM_CONF": str(self.conf), "PATH": path}

    def start(self) -> Cluster:
        for folder in ("munge", "state", "spool", "log", "bin"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        try:
            self.start_munge()
            self.conf.write_text(self.configuration())
            self.write_srun_wrapper()
            self.start_daemon("slurmctld", "-D", "-f", str(self.conf))
            self.start_daemon("slurmd", "-D", "-f", str(self.conf), "-N", self.node["NodeName"])
            self.wait_until_idle()
        except BaseException:
            self.stop()
            raise
        return self

    def start_munge(self) -> None:
        folder = self.munge_socket.parent
        folder.chmod(0o711)
        key = folder / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        self.start_daemon(
            "munged",
            "--foreground",
            "--force",
            f"--socket={self.munge_socket}",
            f"--key-file={key}",
            f"--pid-file={folder / 'munged.pid'}",
            f"--seed-file={folder / 'munged.seed'}",
            f"--log-file={self.root / 'log' / 'munged.log'}",
        )
        wait_for(self.munge_socket.exists, 10, "munged did not create its socket")

    def write_srun_wrapper(self) -> None:
        wrapper = self.root / "bin" / "srun"
        real = shutil.which("srun")
        wrapper.write_text(f"#!/bin/sh\nexport SLURM_CONF='{self.conf}'\nexec '{real}' \"$@\"\n")
        wrapper.chmod(0o755)

    def configuration(self) -> str:
        root, node = self.root, self.node
        hardware = " ".join(f"{key}={value}" for key, value in node.items() if key != "NodeName")
        lines = [
            "ClusterName=edgebench",
            f"SlurmctldHost={node['NodeName']}(127.0.0.1)",
            f"SlurmctldPort={free_port()}",
            f"SlurmdPort={free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={root / 'state'}",
            f"SlurmdSpoolDir={root / 'spool'}",
            f"SlurmctldPidFile={root / 'slurmctld.pid'}",
            f"SlurmdPidFile={root / 'slurmd.pid'}",
            f"SlurmctldLogFile={root / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={root / 'log' / 'slurmd.log'}",
            # no cgroups: what works in a container
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            # memory measured every second from /proc; a step over its --mem is killed
            "JobAcctGatherType=jobacct_gather/linux",
            "JobAcctGatherFrequency=task=1",
            "JobAcctGatherParams=OverMemoryKill",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            # cores and memory are what jobs ask for and what limits how many run at once
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=1000",
            "SchedulerType=sched/backfill",
            # finished jobs stay visible to squeue for an hour (the plugin's status source)
            "MinJobAge=3600",
            "KillWait=5",
            "ReturnToService=2",
            "MpiDefault=none",
            f"NodeName={node['NodeName']} NodeAddr=127.0.0.1 {hardware}",
            f"PartitionName=main Nodes={node['NodeName']} Default=YES MaxTime=INFINITE State=UP",
        ]
        return "\n".join(lines) + "\n"

    def start_daemon(self, name: str, *args: str) -> None:
        log = open(self.root / "log" / f"{name}.out", "w")
        self.processes[name] = subprocess.Popen(
            [DAEMONS[name], *args], stdout=log, stderr=subprocess.STDOUT, env=self.env
        )

    def wait_until_idle(self, timeout: float = 60) -> None:
        def idle() -> bool:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited: {self.log_tail(name)}")
            states = self.command("sinfo", "--noheader", "--format=%T", check=False)
            return states.strip() == "idle"

        wait_for(idle, timeout, f"the node did not become idle: {self.log_tail('slurmd')}")

    def log_tail(self, name: str, lines: int = 5) -> str:
        text = ""
        for path in (self.root / "log").glob(f"{name}*"):
            text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def command(self, *argv: str, check: bool = True) -> str:
        result = subprocess.run(argv, capture_output=True, text=True, env=self.env)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
        return result.stdout

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller remembers (MinJobAge): id, name, state, comment, node,
        start and end (ISO times)."""
        output = self.command(
            "squeue", "--states=all", "--noheader", "--format=%i|%j|%T|%k|%N|%S|%e"
        )
        keys = ("id", "name", "state", "comment", "node", "start", "end")
        return [dict(zip(keys, line.split("|"), strict=True)) for line in output.splitlines()]

    def stop(self) -> None:
        if "slurmctld" in self.processes:
            self.command("scancel", "--full", "--user", str(os.geteuid()), check=False)
            wait_for(self.queue_empty, 15, None)
        for name in ("slurmd", "slurmctld", "munged"):
            stop_process(self.processes.pop(name, None))

    def queue_empty(self) -> bool:
        try:
            return not any(job["state"] in ("RUNNING", "PENDING") for job in self.jobs())
        except RuntimeError:
            return True

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def stop_process(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(condition, timeout: float, failure: str | None) -> None:
    """Poll `condition` until true; after `timeout` seconds raise `failure` (None: give up)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            if failure is None:
                return
            raise RuntimeError(failure)
        time.sleep(0.2)
