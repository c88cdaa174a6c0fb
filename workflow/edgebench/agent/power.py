"""The agent's side of a power measurement: the idle window, the marks of every timed window,
and the on-board source (power_sources/) sampled around the run, all in power.jsonl on this
device's monotonic clock. A host meter's samples are the host's (meter.jsonl); the agent writes
only the marks for it. A source the agent does not know as on-board is a host meter: the host
refused unknown names at load."""

from __future__ import annotations

import time
from pathlib import Path

from .power_sources import ON_BOARD, PowerUnavailable, SourceMissing, open_source
from .powerlog import POWER_LOG, PowerLog

HOST_METER_LEAD_INTERVALS = 2  # a host meter's samples: before the first mark, after the last
HOST_METER_MARGIN_S = 0.5  # the meter's start (port open, first poll) or stop


class PowerRecorder:
    """Opened before the first batch, closed before the run log's end record (whose file
    hashes then cover power.jsonl)."""

    def __init__(self, settings: dict, out: Path):
        self.settings = settings
        self.source = None
        self.on_board = settings["source"] in ON_BOARD.entries()
        header = {"source": settings["source"], "clock": "device-monotonic"}
        failure = settings.get("unavailable")  # checked by the host, on this same machine
        if self.on_board and not failure:
            try:
                self.source = open_source(settings)
                self.source.check()
                header.update(self.source.describe())
            except SourceMissing:
                raise  # the run fails: the profile names a program this board lacks
            except PowerUnavailable as error:
                self.source, failure = None, str(error)
        else:
            header["samples_in"] = "meter.jsonl (read by the host)"
        self.log = PowerLog(out / POWER_LOG, header)
        self.failure = failure
        if self.source is not None:
            self.source.start(self.log.sample)

    def idle(self) -> None:
        """Sit still for idle_s, marked: the board's power before any inference."""
        seconds = float(self.settings.get("idle_s", 0))
        if seconds <= 0 or self.settings.get("unavailable"):
            return
        self.wait_for_first_sample()
        self.wait_for_host_meter()
        self.log.mark("idle", "start", time.monotonic_ns())
        time.sleep(seconds)
        self.log.mark("idle", "end", time.monotonic_ns())

    def wait_for_first_sample(self, timeout_s: float = 10.0) -> None:
        """A source that starts a program (tegrastats) gives its first sample a moment later;
        the idle window starts after it, so that the samples cover the window."""
        if self.source is None:
            return
        deadline = time.monotonic() + timeout_s
        while self.log.samples == 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    def wait_for_host_meter(self) -> None:
        """A host meter starts when this run does (RUN_STARTED) and its first sample comes a
        refresh or two later (a UM meter's first frame is only a baseline): the agent cannot
        see it, so it waits HOST_METER_LEAD_INTERVALS intervals and a margin."""
        if not self.on_board:
            time.sleep(self.host_meter_lead_s())

    def host_meter_lead_s(self) -> float:
        interval_s = float(self.settings.get("interval_ms", 100)) / 1000
        return HOST_METER_LEAD_INTERVALS * interval_s + HOST_METER_MARGIN_S

    def window(self, batch: int, process: int, start_ns: int, end_ns: int) -> None:
        self.log.mark("window", "start", start_ns, batch=batch, process=process)
        self.log.mark("window", "end", end_ns, batch=batch, process=process)

    def close(self) -> None:
        final = {}
        if self.source is None and not self.on_board:
            time.sleep(self.host_meter_lead_s())  # a refresh after the last window, seen
        if self.source is not None:
            # a sample after the last window, so the trace covers it
            time.sleep(float(self.settings.get("interval_ms", 100)) / 1000)
            self.source.stop()
            self.failure = getattr(self.source, "error", None) or self.failure
            final = {"final": self.source.describe()}
        self.log.end("failed" if self.failure else "ok", self.failure or "", **final)
