"""The transport interface: how a staged run reaches a device and its results come back.

Adding a transport (serial for microcontroller boards) is a module in this folder with a class
that satisfies `Transport`, plus one line in `edgebench.devices.dispatch.TRANSPORTS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Transport(Protocol):
    # Whether the stage's Python agent (edgebench_agent/) is sent: a board running firmware
    # (serial, MLPerf Tiny) receives inputs and commands instead.
    stages_agent: bool
    # Seconds without a heartbeat after which the agent stops itself (None: it stops when its
    # stdin closes, which a pipe on this machine always does); the transport then sends one
    # on the agent's stdin at least every sixth of it.
    lifeline_timeout_s: float | None

    def __init__(self, profile: dict) -> None: ...

    def board_lock(self, board: str) -> str:
        """Where the agent holds the board lock, on the device ('~' allowed): a path every
        user of the device can open (see edgebench.agent.boardlock)."""

    def run(self, stage: Path, log) -> int:
        """Run the staged job; leave every file the device wrote in `stage/out`; return the
        agent's exit status. Raise SshError (or the transport's own subclass of it) when the
        device cannot be reached."""

    def run_python(self, code: str, *args: str):
        """Run a short Python snippet with the device's interpreter (`python -c code args`);
        a CompletedProcess with text output. Raise SshError when the device cannot be reached."""

    def cleanup(self, stage: Path) -> None:
        """Remove what the run left, here and on the device (results already kept)."""
