"""`python -m edgebench.convert`: the command every conversion engine runs."""

from __future__ import annotations

import argparse
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


if __name__ == "__main__":
    raise SystemExit(main())
