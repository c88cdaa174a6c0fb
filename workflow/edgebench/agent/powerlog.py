"""power.jsonl: the one raw format of every power source (docs/raw-format.md, "Power log").

Whoever reads a source writes one: the agent on the device for on-board sensors (tegrastats,
INA3221, RAPL), the host for meters it reads (RDTech UM-series, a serial line meter, a command),
the latter as meter.jsonl beside power.jsonl. Every raw sample is kept. Records, one JSON object
a line, `type` first:

- header: format_version, source, clock ("device-monotonic": time.monotonic_ns() on the device;
  "host-wall": time.time_ns() on the host), kind ("power": samples carry watts; "energy":
  cumulative joules, from an energy counter), interval_s, plus what the source describes (rails,
  the rails summed for the total, model...).
- sample: t_ns on the header's clock; watts (the total input power, null with `reason` when it
  cannot be determined) or joules (kind "energy"); rails {name: watts}; volts, amps where given.
- mark: name ("idle" or "window"), edge ("start" or "end"), t_ns, and batch, process for windows.
- end: status ("ok" or "failed"), reason, samples (how many were written), and `final`: what
  the source describes once it has stopped (rails seen, a serial meter's clock offset and its
  uncertainty, malformed lines).

Written to NAME.part and renamed after the end record, so a file present is complete.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

POWER_FORMAT_VERSION = 1
POWER_LOG = "power.jsonl"  # the agent's: marks, and the samples of an on-board source
METER_LOG = "meter.jsonl"  # the host's: the samples of a meter it reads
# The agent's output line once it holds the board and its run starts: a host meter starts then.
RUN_STARTED = "edgebench-agent: run started"


class PowerLog:
    """A power log being written; `write` is thread-safe (a sampler thread and the runner)."""

    def __init__(self, path: Path, header: dict):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".part")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.partial, "w")
        self._lock = threading.Lock()
        self.samples = 0
        self.write({"type": "header", "format_version": POWER_FORMAT_VERSION, **header})

    def write(self, record: dict) -> None:
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)

    def sample(self, record: dict) -> None:
        """One sample: {"t_ns": ..., "watts": ..., "rails": {...}, ...} from a source."""
        self.write({"type": "sample", **record})
        self.samples += 1

    def mark(self, name: str, edge: str, t_ns: int, **where) -> None:
        self.write({"type": "mark", "name": name, "edge": edge, "t_ns": t_ns, **where})

    def end(self, status: str = "ok", reason: str = "", **extra) -> None:
        record = {"type": "end", "status": status, "reason": reason, "samples": self.samples}
        self.write({**record, **extra})
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        os.replace(self.partial, self.path)
