"""A stand-in for NVIDIA's tegrastats: `--interval MS` prints one Orin (JetPack 5/6) line every
MS ms, flushed, until it is killed; `--stop` kills the running instance as the real one does,
through the pid file it records (TEGRASTATS_EMULATOR_PIDFILE, else one under $TMPDIR).

VDD_IN cycles through 4000, 4100, ... 4900 mW, so a reader can tell the lines apart."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

LINE = (
    "{stamp} RAM 2448/7620MB (lfb 1x4MB) SWAP 0/3810MB (cached 0MB) "
    "CPU [2%@729,1%@729,0%@729,0%@729,off,off] EMC_FREQ 0% GR3D_FREQ 0% "
    "cpu@47.5C soc2@46.2C soc0@46.5C gpu@46.9C tj@47.5C soc1@46.2C "
    "VDD_IN {vdd_in}mW/4654mW VDD_CPU_GPU_CV 491mW/491mW VDD_SOC 1350mW/1350mW"
)


def pid_file() -> Path:
    default = Path(tempfile.gettempdir()) / "tegrastats_emulator.pid"
    return Path(os.environ.get("TEGRASTATS_EMULATOR_PIDFILE", default))


def vdd_in_mw(index: int) -> int:
    return 4000 + 100 * (index % 10)


def run(interval_ms: int) -> None:
    path = pid_file()
    path.write_text(str(os.getpid()))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        index = 0
        while True:
            stamp = time.strftime("%m-%d-%Y %H:%M:%S")
            print(LINE.format(stamp=stamp, vdd_in=vdd_in_mw(index)), flush=True)
            index += 1
            time.sleep(interval_ms / 1000)
    finally:
        path.unlink(missing_ok=True)


def stop() -> None:
    path = pid_file()
    if path.exists():
        os.kill(int(path.read_text()), signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=int, default=1000)
    parser.add_argument("--stop", action="store_true")
    args = parser.parse_args()
    if args.stop:
        stop()
    else:
        run(args.interval)


if __name__ == "__main__":
    main()
