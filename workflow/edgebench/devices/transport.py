"""The transport extension point: how a staged run reaches a device and its results come back.

A transport is one class, a subclass of `Transport` with its own `name`, in any module of this
package (local, ssh, serial) or in a plugin distribution under the entry-point group
`edgebench.transports`. The class declares everything the rest of edgebench asks about it: the
profile keys it takes (`options`, JSON Schema properties; the device schema is completed from
them at load), whether it stages the Python agent, whether the agent runs on this machine, the
formats it can run, how it names the physical board, its load-time checks and the ports it
opens. Nothing else names a transport.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from edgebench.agent.registry import Registry
from edgebench.plugins import GROUPS
from edgebench.settings.errors import ConfigError

# a profile key of the transports whose agent holds a board lock on the board
LOCK_DIR_OPTION = {
    "description": "The folder on the board that holds its lock, one every user of the board "
    "can write (default /run/lock/edgebench, made world-writable and sticky on first use).",
    "type": "string",
    "pattern": "^/[A-Za-z0-9_./+-]+$",
}


class Transport:
    name: str
    # Whether the stage's Python agent (edgebench_agent/) is sent: a board running firmware
    # (serial, MLPerf Tiny) receives inputs and commands instead.
    stages_agent: bool
    # Whether the agent runs on this machine: its run then owns every core, and a power source
    # is read here.
    runs_here: bool = False
    # Seconds without a heartbeat after which the agent stops itself (None: it stops when its
    # stdin closes, which a pipe on this machine always does); the transport then sends one
    # on the agent's stdin at least every sixth of it.
    lifeline_timeout_s: float | None = None
    # The profile keys this transport takes besides the device schema's own (JSON Schema
    # properties), and those it needs.
    options: dict = {}
    required: tuple[str, ...] = ()
    # The formats it can run at all (None: any the device's runtimes run).
    formats: tuple[str, ...] | None = None
    OPTIONAL = ("lifeline_timeout_s", "formats")  # declared attributes that may stay None

    def __init__(self, profile: dict) -> None:
        self.profile = profile

    @classmethod
    def board_id(cls, profile: dict) -> str:
        """The physical board a profile without `board:` drives (profiles of one board never
        run at the same time)."""
        return profile["name"]

    @classmethod
    def check_profile(cls, profile: dict, catalog: dict) -> list[str]:
        """What a profile asks that this transport cannot do, found at load (`catalog`: the
        workloads by name); each problem a sentence."""
        return []

    @classmethod
    def ports(cls, profile: dict) -> list[str]:
        """The serial ports a run of this profile opens (two devices of one run may not share
        one)."""
        return []

    def board_lock(self, board: str) -> str:
        """Where the agent holds the board lock, on the device ('~' allowed): a path every
        user of the device can open (see edgebench.agent.boardlock)."""
        raise NotImplementedError

    def run(self, stage: Path, log) -> int:
        """Run the staged job; leave every file the device wrote in `stage/out`; return the
        agent's exit status. Raise SshError (or the transport's own subclass of it) when the
        device cannot be reached."""
        raise NotImplementedError

    def run_python(self, code: str, *args: str) -> subprocess.CompletedProcess:
        """Run a short Python snippet with the device's interpreter (`python -c code args`);
        a CompletedProcess with text output. Raise SshError when the device cannot be reached."""
        raise NotImplementedError

    def cleanup(self, stage: Path) -> None:
        """Remove what the run left, here and on the device (results already kept)."""
        raise NotImplementedError


TRANSPORTS = Registry("transport", "edgebench.devices", Transport, GROUPS["transports"])


def transport_class(profile: dict) -> type[Transport]:
    try:
        return TRANSPORTS.get(profile["transport"])
    except KeyError:
        raise ConfigError(
            f"device {profile['name']!r} uses transport {profile['transport']!r}, which no "
            f"installed transport provides (available: {', '.join(TRANSPORTS.names())}); "
            "install its plugin or remove the device from 'devices'"
        ) from None


def key_problems(profile: dict) -> list[str]:
    """Keys of other transports in a profile: refused, never ignored."""
    own = transport_class(profile).options
    others: dict[str, list[str]] = {}
    for name, entry in TRANSPORTS.entries().items():
        for key in entry.options:
            if key not in own:
                others.setdefault(key, []).append(name)
    return [
        f"{key} applies to transport {' and '.join(others[key])} only, not {profile['transport']}"
        for key in profile
        if key in others
    ]


def fill_device_schema(schema: dict) -> None:
    """The transports' names and each one's keys (checked when the profile names it)."""
    properties = schema["properties"]
    properties["transport"]["enum"] = TRANSPORTS.names()
    rules = schema.setdefault("allOf", [])
    for name, entry in TRANSPORTS.entries().items():
        for key, option in entry.options.items():
            properties.setdefault(key, {"description": option.get("description", "")})
        rules.append(
            {
                "if": {"properties": {"transport": {"const": name}}},
                "then": {"properties": dict(entry.options), "required": list(entry.required)},
            }
        )
