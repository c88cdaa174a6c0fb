"""Running one conversion through a container engine (edgebench.images.engines): a crashed
converter still leaves a record that says so."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from edgebench import warm
from edgebench.fileio import read_image_record, write_conversion_record
from edgebench.formats import FORMATS

if TYPE_CHECKING:  # the converter registry imports this module in toolchain images
    from edgebench.images.engines import Engine


def run_conversion(
    engine: Engine,
    workload_dir: Path,
    format_name: str,
    record: Path,
    log: Path,
    samples: int,
    seed: int,
    dataset: Path | None = None,
    image: Path | None = None,
    server: bool = True,
) -> int:
    """Run one conversion through the engine; a crashed converter still leaves a `failed` row,
    and an image that could not be built an `unsupported` one. With the `none` engine and
    `server`, the conversion is a child of the warm server (edgebench.warm)."""
    image_record = read_image_record(image) if image else None
    if engine.name != "none" and (image_record is None or image_record.get("status") != "ok"):
        why = image_record["reason"] if image_record else "no image record was given"
        write_conversion_record(
            record,
            {
                "workload": workload_dir.name,
                "format": format_name,
                "engine": engine.name,
                "image": FORMATS[format_name].image,
                "status": "unsupported",
                "reason": f"the {FORMATS[format_name].image} image is not available: {why}",
            },
        )
        return 0
    argv = [
        "-m", "edgebench.convert", "--workload-dir", str(workload_dir), "--format", format_name,
        "--record", str(record), "--samples", str(samples), "--seed", str(seed),
        "--engine", engine.name,
    ]  # fmt: skip
    if dataset is not None:
        argv += ["--dataset", str(dataset)]
    if engine.name != "none":
        argv += ["--image-id", image_record["id"]]
    command = engine.command(argv, image_record, Path.cwd())
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle:
        handle.write("$ " + " ".join(command) + "\n")
        handle.flush()
        code = None
        if engine.name == "none" and server:
            code = warm.run_warm(
                "edgebench.convert.__main__:main",
                {"argv": argv[2:]},
                handle,
                say=lambda line: warm.say(handle, line),
            )
        if code is None:
            code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT).returncode
    if code != 0 or not record.exists():
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        last = (
            f": {textwrap.shorten(lines[-1], 300, placeholder=' [...]')}"
            if lines and not lines[-1].startswith("$ ")
            else ""
        )
        write_conversion_record(
            record,
            {
                "workload": workload_dir.name,
                "format": format_name,
                "engine": engine.name,
                "status": "failed",
                "reason": f"converter process exited with code {code}{last}; see {log}",
            },
        )
    return code
