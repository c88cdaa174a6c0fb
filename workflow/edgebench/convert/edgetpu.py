"""int8 TFLite -> Edge TPU: Coral's edgetpu_compiler (x86-64 Linux only).

The compiler maps what it can onto the Edge TPU (one custom op) and leaves the rest for the
CPU; its operation table (`--show_operations`) is kept as the record's op mapping."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgebench.fileio import write_bytes
from edgebench.formats import Format

COMPILER = "edgetpu_compiler"
TIMEOUT_S = 600
ROW = re.compile(r"^([A-Z][A-Z0-9_]*)\s+(\d+)\s+(\S.*)$")


class CompilerRejected(RuntimeError):
    """edgetpu_compiler refused the model; the message is its own output."""


def missing_tool(fmt: Format) -> str | None:
    if shutil.which(COMPILER) is None:
        return (
            f"{fmt.name} needs Coral's {COMPILER} (x86-64 Linux), which is not on PATH here; "
            "the edgetpu image installs it from Coral's apt repository (--config containers=docker)"
        )
    return None


def parse_operations(output: str) -> list[dict]:
    """The rows of the compiler's operation table: operator, count, where it runs."""
    rows, in_table = [], False
    for line in output.splitlines():
        if re.match(r"^\s*Operator\s+Count\s+Status", line):
            in_table = True
            continue
        match = ROW.match(line.strip()) if in_table else None
        if match:
            rows.append({"op": match[1], "count": int(match[2]), "status": match[3].strip()})
    return rows


def convert_file(source: Path, out: Path, fmt: Format, calibration) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgebench-edgetpu-") as tmp:
        model = Path(tmp) / "model.tflite"
        shutil.copyfile(source, model)
        result = subprocess.run(
            [COMPILER, "--show_operations", "--out_dir", tmp, str(model)],
            capture_output=True, text=True, timeout=TIMEOUT_S,
        )  # fmt: skip
        output = result.stdout + result.stderr
        print(output)
        compiled = Path(tmp) / "model_edgetpu.tflite"
        if result.returncode != 0 or not compiled.is_file():
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            raise CompilerRejected(" | ".join(lines[-4:]) or f"exit code {result.returncode}")
        write_bytes(out, compiled.read_bytes())
    rows = parse_operations(output)
    ops: dict[str, int] = {}
    for row in rows:
        ops[row["op"]] = ops.get(row["op"], 0) + row["count"]
    version = re.search(r"Edge TPU Compiler version (\S+)", output)
    return {
        "ops": ops,
        "op_mapping": rows,
        "ops_on_edgetpu": sum(r["count"] for r in rows if r["status"] == "Mapped to Edge TPU"),
        "tool_versions": {COMPILER: version[1] if version else None},
    }
