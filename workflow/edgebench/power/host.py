"""A host meter around one run: started when the agent says its run starts (it holds the board,
never while it waits for the board lock, where another run may be polling the same meter), and
stopped when the agent has exited; its samples go to meter.jsonl."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from edgebench.agent.powerlog import METER_LOG, RUN_STARTED, PowerLog
from edgebench.power import is_host_meter

WATCH_S = 0.05  # how often the job's log is read for the agent's RUN_STARTED line


class RunStartWatch:
    """Calls `start` once the job's log (written by the agent) shows RUN_STARTED after `offset`."""

    def __init__(self, log_path: Path, start) -> None:
        self.log_path = Path(log_path)
        self.offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.start = start
        self.seen = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="run-start-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_S):
            with open(self.log_path, "rb") as log:
                log.seek(self.offset)
                if RUN_STARTED.encode() in log.read():
                    self.seen.set()
                    self.start()
                    return

    def close(self) -> None:
        self._stopping.set()
        self._thread.join()


def log_file(log) -> Path | None:
    """The path of the job's log file object, where the agent's output goes (None if none)."""
    name = getattr(log, "name", None)
    return Path(name) if isinstance(name, str) and Path(name).is_file() else None


@contextlib.contextmanager
def host_meter(power: dict | None, folder: Path, agent_log: Path | None = None):
    """A meter the host reads (a source not on_board) sampling while the run runs, into
    meter.jsonl in `folder`; yields its path (None for no meter or an on-board source). With
    `agent_log` (the job's log, where the agent prints RUN_STARTED) it starts when the run
    starts; without (a board with no agent), at once."""
    if not is_host_meter(power):
        yield None
        return
    from edgebench.power.meters import PowerUnavailable, open_meter

    meter = open_meter(power)
    meter_log = PowerLog(folder / METER_LOG, meter.describe())
    failure: list[str] = []

    def start() -> None:
        try:
            meter.check()
            meter.start(meter_log.sample)
        except (PowerUnavailable, OSError) as error:  # the run goes on; its power says why not
            failure.append(str(error))

    watch = RunStartWatch(agent_log, start) if agent_log else None
    if watch is None:
        start()
    try:
        yield meter_log.path
    finally:
        if watch is not None:
            watch.close()
            if not watch.seen.is_set():
                failure.append("the agent never started the run, so the meter was not started")
        meter.stop()
        error = failure[0] if failure else getattr(meter, "error", None)
        meter_log.end("failed" if error else "ok", error or "", final=meter.describe())
