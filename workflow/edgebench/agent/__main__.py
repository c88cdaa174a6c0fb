"""`python -m edgebench_agent job.json`: run one job; paths in it are relative to its folder."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .runner import run_job


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m edgebench_agent JOB.json", file=sys.stderr)
        return 2
    job_path = Path(argv[0]).resolve()
    job = json.loads(job_path.read_text())
    status = run_job(job, job_path.parent)
    print(f"{job['device']} {job['workload']} {job['format']}: {status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
