"""Real OpenSSH servers that play separate boards, for the tests and benchmarks/.

Try the SSH path without hardware: a `Board` runs Debian's sshd with generated keys, and its
`profile()` is a device profile that reaches it through an ssh_config alias.

With root and `ip netns`, each board gets its own network namespace joined to the host by a
veth pair, so a test can cut its link (`ip link set ... down`) mid-run. Without them, boards
listen on loopback and the link-cut test is skipped with that reason. The namespace, the veth
names and the /30 subnet carry this process's id and are checked against the host's own, so
two test sessions on one machine never take (or delete) each other's.

Each board keeps its board lock in a folder of its own (`lock_dir`), as separate machines do;
with root, `login_as` makes a second user of a board (its own key entry, a Python it can run).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy

SSHD = "/usr/sbin/sshd"


# This process's mark on its namespaces and links (interface names: 15 characters at most).
SESSION = format(os.getpid(), "x")[-5:]


def have_netns() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"ebt-probe-{SESSION}"
    added = subprocess.run(["ip", "netns", "add", probe], capture_output=True)
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return added.returncode == 0


def free_subnet(index: int) -> str:
    """A 10.213.N.0/30 that no interface of the host has yet (another session's boards
    included), N drawn from this process's id so that sessions rarely even try the same."""
    used = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    start = (os.getpid() * 7 + index) % 250
    for step in range(250):
        third = (start + step) % 250 + 1
        if f" 10.213.{third}." not in used:
            return f"10.213.{third}"
    raise RuntimeError("no free 10.213.N.0/30 subnet for a test board")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


class Keys:
    """The client's key pair and a known_hosts file for the boards."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.identity = root / "id_ed25519"
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.identity))
        self.known_hosts = root / "known_hosts"
        self.known_hosts.touch()
        self.config = root / "ssh_config"
        self.config.write_text("")


class Board:
    """One sshd, in its own namespace (address 10.213.N.2, N free on this host) or on
    127.0.0.1."""

    def __init__(self, keys: Keys, name: str, index: int, netns: bool, client_alive: bool = True):
        """`client_alive` False: sshd never checks that a client is still there (OpenSSH's
        default), so a session whose link died lingers on the board."""
        self.keys, self.name, self.netns = keys, name, netns
        self.client_alive = client_alive
        self.root = keys.root / name
        self.root.mkdir()
        self.workdir = self.root / "workdir"
        self.namespace = f"ebt-{SESSION}-{name}"
        self.host_link = f"ebh{SESSION}-{index}"
        self.device_link = f"ebd{SESSION}-{index}"
        self.address = f"{free_subnet(index)}.2" if netns else "127.0.0.1"
        self.port = 22 if netns else free_port()
        self.process = None

    def start(self) -> Board:
        if self.netns:
            self.make_namespace()
        hostkey = self.root / "host_ed25519"
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey))
        authorized = self.root / "authorized_keys"
        authorized.write_text(Path(f"{self.keys.identity}.pub").read_text())
        config = self.root / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress {self.address}\nHostKey {hostkey}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {self.root / 'sshd.pid'}\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPermitRootLogin prohibit-password\nLogLevel ERROR\n"
            # sessions whose client vanished (a cut link) end instead of lingering
            + ("ClientAliveInterval 2\nClientAliveCountMax 3\n" if self.client_alive else "")
        )
        Path("/run/sshd").mkdir(exist_ok=True)
        prefix = ["ip", "netns", "exec", self.namespace] if self.netns else []
        log = open(self.root / "sshd.log", "w")
        self.process = subprocess.Popen(
            [*prefix, SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log
        )
        self.wait_listening()
        public = (hostkey.with_suffix(".pub")).read_text().split()
        where = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        self.host_key_line = f"{where} {public[0]} {public[1]}\n"
        return self

    def make_namespace(self) -> None:
        device_link = self.device_link
        subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_link], capture_output=True)
        run("ip", "netns", "add", self.namespace)
        run("ip", "link", "add", self.host_link, "type", "veth", "peer", "name", device_link)
        run("ip", "link", "set", device_link, "netns", self.namespace)
        host_address = self.address.rsplit(".", 1)[0] + ".1/30"
        run("ip", "addr", "add", host_address, "dev", self.host_link)
        run("ip", "link", "set", self.host_link, "up")
        inside = ["ip", "netns", "exec", self.namespace]
        run(*inside, "ip", "addr", "add", f"{self.address}/30", "dev", device_link)
        run(*inside, "ip", "link", "set", device_link, "up")
        run(*inside, "ip", "link", "set", "lo", "up")

    def wait_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(
            f"sshd for {self.name} did not start: {(self.root / 'sshd.log').read_text()}"
        )

    def trust(self) -> None:
        """What a user does once by hand: put the board's host key in known_hosts."""
        with open(self.keys.known_hosts, "a") as known:
            known.write(self.host_key_line)
        self.alias(self.name, "root")

    def alias(self, alias: str, user: str) -> None:
        """A Host entry of the ssh config that reaches this board as `user`."""
        with open(self.keys.config, "a") as config:
            config.write(
                f"Host {alias}\n  HostName {self.address}\n  Port {self.port}\n  User {user}\n"
                f"  IdentityFile {self.keys.identity}\n  IdentitiesOnly yes\n"
                f"  UserKnownHostsFile {self.keys.known_hosts}\n"
            )

    def login_as(self, user: str) -> tuple[str, str]:
        """A second user of the board (root only): the account (made once, key login only),
        an ssh config alias `<board>-<user>`, a workdir it owns and a Python it can run with
        numpy and LiteRT; returns the alias and that Python. The board's files are readable
        by every user (sshd reads authorized_keys as the user)."""
        if os.geteuid() != 0:
            raise PermissionError("a second user of a board needs root (useradd)")
        try:
            pwd.getpwnam(user)
        except KeyError:  # '*': no password, not locked (sshd refuses a locked account)
            run("useradd", "--create-home", "--shell", "/bin/sh", "--password", "*", user)
        for folder in (self.keys.root, *self.keys.root.parents):
            if not folder.stat().st_mode & 0o001:
                raise PermissionError(f"{folder} is not searchable by other users")
        alias = f"{self.name}-{user}"
        self.alias(alias, user)
        return alias, python_for(user, self.root / f"python-{user}")

    def profile(self, python: str, **extra) -> dict:
        return {
            "name": self.name,
            "description": f"test board {self.name} ({'netns' if self.netns else 'loopback'})",
            "transport": "ssh",
            "host": self.name,
            "ssh_config": str(self.keys.config),
            "python": python,
            "workdir": str(self.workdir),
            "lock_dir": str(self.root / "run-lock"),  # this board's own /run/lock/edgebench
            "formats": ["tflite-fp32", "tflite-int8", "onnx-fp32"],
            "power": {"source": "none"},
            "connect_timeout_s": 3,
            "alive_interval_s": 1,
            "alive_count": 2,
            "retries": 3,
            "backoff_s": 1,
            **extra,
        }

    def cut(self) -> None:
        run("ip", "link", "set", self.host_link, "down")

    def restore(self) -> None:
        run("ip", "link", "set", self.host_link, "up")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.netns:
            subprocess.run(["ip", "netns", "del", self.namespace], capture_output=True)
            subprocess.run(["ip", "link", "del", self.host_link], capture_output=True)


def python_for(user: str, folder: Path) -> str:
    """A Python that `user` can run with numpy and LiteRT: this one if the user may, else
    Debian's python3 of the same version with copies of those packages (a venv under a
    private home is out of another user's reach)."""
    probe = ["-c", "import numpy, ai_edge_litert.interpreter"]
    as_user = ["runuser", "-u", user, "--"]
    if subprocess.run([*as_user, sys.executable, *probe], capture_output=True).returncode == 0:
        return sys.executable
    base = Path("/usr/bin/python3")
    version = subprocess.run([base, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True).stdout.strip()  # fmt: skip
    if version != str(sys.version_info[:2]):
        raise RuntimeError(f"{base} is Python {version or '(missing)'}, not {sys.version_info[:2]}")
    site = folder / "site"
    site.mkdir(parents=True, exist_ok=True)
    packages = Path(numpy.__file__).parents[1]
    for pattern in ("numpy", "numpy.libs", "numpy-*", "ai_edge_litert", "ai_edge_litert-*"):
        for source in packages.glob(pattern):
            if not (site / source.name).exists():
                shutil.copytree(source, site / source.name)
    wrapper = folder / "python"
    wrapper.write_text(
        f'#!/bin/sh\nPYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}{site}" exec {base} "$@"\n'
    )
    wrapper.chmod(0o755)
    checked = subprocess.run(["runuser", "-u", user, "--", str(wrapper), *probe],
                             capture_output=True, text=True)  # fmt: skip
    if checked.returncode != 0:
        raise RuntimeError(f"no Python for {user}: {checked.stderr[-500:]}")
    return str(wrapper)
