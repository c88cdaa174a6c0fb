"""`python -m edgebench.convert`: the command every conversion engine runs."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from edgebench.convert.job import convert_workload
from edgebench.formats import FORMATS


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgebench.convert", description=__doc__)
    parser.add_argument("--workload-dir", type=Path, required=True)
    parser.add_argument("--format", choices=sorted(FORMATS), required=True)
    parser.add_argument("--record", type=Path, required=True, help="the {format}.json to write")
    parser.add_argument("--samples", type=int, default=100, help="int8 calibration samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dataset", type=Path, help="calibration dataset (.npz with x_train)")
    parser.add_argument("--engine", default="none")
    parser.add_argument("--image-id", help="the toolchain image it runs in, for the record")
    args = parser.parse_args(argv)
    record = convert_workload(
        args.workload_dir,
        args.format,
        args.record,
        samples=args.samples,
        seed=args.seed,
        dataset=args.dataset,
        engine=args.engine,
        image_id=args.image_id,
    )
    print(f"{record['workload']} -> {record['format']}: {record['status']} {record['reason']}")
    return 0


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown: the record and the model are written and
    closed, and TensorFlow's teardown alone took about 2 s of every conversion on this 2-core
    VM (benchmarks/job_startup.py, README Benchmarks)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
