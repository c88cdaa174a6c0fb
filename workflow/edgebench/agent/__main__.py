"""`python -m edgebench_agent job.json`: run one job; paths in it are relative to its folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .boardlock import (
    BOARD_BUSY_EXIT,
    LOCK_REFUSED_EXIT,
    BoardBusy,
    LockRefused,
    hold,
    start_lifeline,
)
from .interleave import run_interleaved
from .powerlog import RUN_STARTED
from .runner import run_job, run_worker


def main(argv: list[str]) -> int:
    worker = len(argv) == 4 and argv[1] == "--worker"
    if len(argv) != 1 and not worker:
        print("usage: python -m edgebench_agent JOB.json", file=sys.stderr)
        return 2
    job_path = Path(argv[0]).resolve()
    job = json.loads(job_path.read_text())
    if worker:  # one of the run's timing processes; the parent holds the board lock
        start_lifeline()
        return run_worker(job, job_path.parent, int(argv[2]), int(argv[3]))
    if job.get("lifeline"):
        start_lifeline(job.get("lifeline_timeout_s"))
    lock = None
    if job.get("board_lock"):
        holder = {k: job.get(k) for k in ("device", "workload", "format", "owner")}
        try:
            lock = hold(job["board_lock"], holder, float(job.get("lock_wait_s", 3600)))
        except BoardBusy as error:
            print(f"board busy: {error}", file=sys.stderr)
            return BOARD_BUSY_EXIT
        except LockRefused as error:
            print(f"board lock refused: {error}", file=sys.stderr)
            return LOCK_REFUSED_EXIT
    print(RUN_STARTED, flush=True)  # a meter the host reads starts now, not during the wait
    if job.get("interleaved"):  # every format of the workload, in rounds (interleave.py)
        statuses = run_interleaved(job, job_path.parent)
        status = ", ".join(f"{name} {end}" for name, end in statuses.items())
    else:
        status = run_job(job, job_path.parent, job_path)
    if lock is not None:
        lock.close()  # the board is free for the next run
    print(f"{job['device']} {job['workload']} {job['format']}: {status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
