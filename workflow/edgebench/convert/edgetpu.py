"""int8 TFLite -> Edge TPU: Coral's edgetpu_compiler (x86-64 Linux only).

The compiler maps what it can onto the Edge TPU (one custom op) and leaves the rest for the
CPU; its operation table (`--show_operations`) is kept as the record's op mapping, and its
summary and operation log (`<model>_edgetpu.log`) are parsed into the record's `edgetpu` facts
(`parse_compiler_log`): operations on the TPU and on the CPU, subgraphs, parameter memory."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from edgebench.convert.interface import FileConverter
from edgebench.fileio import write_bytes
from edgebench.formats import Format

COMPILER = "edgetpu_compiler"
TIMEOUT_S = 600
ROW = re.compile(r"^([A-Z][A-Z0-9_]*)\s+(\d+)\s+(\S.*)$")
TABLE_HEADER = re.compile(r"^\s*Operator\s+Count\s+Status")
MAPPED = "Mapped to Edge TPU"
UNITS = {
    "B": 1,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
}
SIZE = r"([0-9]+(?:\.[0-9]+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)\b"
# summary line -> (field, kind): the compiler's own words, one fact a line
SUMMARY = [
    (r"Edge TPU Compiler version\s+(\S+)", "compiler_version", str),
    (r"Model compiled successfully in\s+(\d+)\s*ms", "compile_ms", int),
    (r"Input model:\s*(\S.*)", "input_model", str),
    (r"Input size:\s*" + SIZE, "input_size_bytes", "size"),
    (r"Output model:\s*(\S.*)", "output_model", str),
    (r"Output size:\s*" + SIZE, "output_size_bytes", "size"),
    (
        r"On-chip memory used for caching model parameters:\s*" + SIZE,
        "on_chip_memory_bytes",
        "size",
    ),
    (
        r"On-chip memory remaining for caching model parameters:\s*" + SIZE,
        "on_chip_memory_remaining_bytes",
        "size",
    ),
    (
        r"Off-chip memory used for streaming uncached model parameters:\s*" + SIZE,
        "off_chip_memory_bytes",
        "size",
    ),
    (r"Number of Edge TPU subgraphs:\s*(\d+)", "subgraphs", int),
    (r"Total number of operations:\s*(\d+)", "total_ops", int),
    (r"Number of operations that will run on Edge TPU:\s*(\d+)", "ops_on_tpu", int),
    (r"Number of operations that will run on CPU:\s*(\d+)", "ops_on_cpu", int),
]


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
    """The rows of the compiler's operation table: operator, count, where it runs. Where the
    text holds the table twice (the summary's and the operation log's), the last one counts."""
    rows, in_table = [], False
    for line in output.splitlines():
        if TABLE_HEADER.match(line):
            rows, in_table = [], True
            continue
        match = ROW.match(line.strip()) if in_table else None
        if match:
            rows.append({"op": match[1], "count": int(match[2]), "status": match[3].strip()})
    return rows


def size_bytes(value: str, unit: str) -> int:
    """A size as the compiler prints it (3.75MiB, 0.00B) in bytes; the compiler rounds to two
    decimals, so a MiB figure is good to about 5 KiB."""
    return round(float(value) * UNITS[unit])


def parse_compiler_log(text: str) -> dict:
    """The facts of `edgetpu_compiler -s` output and/or its `<model>_edgetpu.log` table (pass
    them concatenated): what maps to the Edge TPU, what stays on the CPU and why, subgraphs,
    parameter memory. Malformed or truncated text gives what it holds: a figure it does not
    state is None (never zero); `fully_mapped` is None when nothing says either way."""
    facts: dict = {field: None for _, field, _ in SUMMARY}
    for line in text.splitlines():
        line = line.strip()
        for pattern, field, kind in SUMMARY:
            match = re.match(pattern, line)
            if match is None or facts[field] is not None:
                continue
            if kind == "size":
                facts[field] = size_bytes(match[1], match[2])
            else:
                facts[field] = kind(match[1].strip())
            break
    # the operation log's "Input:"/"Output:" name the same files the summary does
    for field, label in (("input_model", "Input"), ("output_model", "Output")):
        match = re.search(rf"^\s*{label}:\s*(\S.*)$", text, re.MULTILINE)
        if facts[field] is None and match:
            facts[field] = match[1].strip()
    rows = parse_operations(text)
    cpu_ops: dict[str, int] = {}
    cpu_reasons: dict[str, list[str]] = {}
    for row in rows:
        if row["status"] != MAPPED:
            cpu_ops[row["op"]] = cpu_ops.get(row["op"], 0) + row["count"]
            reasons = cpu_reasons.setdefault(row["op"], [])
            if row["status"] not in reasons:
                reasons.append(row["status"])
    if rows:  # the table states what the summary may have lost (the log file alone, a cut text)
        if facts["ops_on_tpu"] is None:
            facts["ops_on_tpu"] = sum(r["count"] for r in rows if r["status"] == MAPPED)
        if facts["ops_on_cpu"] is None:
            facts["ops_on_cpu"] = sum(cpu_ops.values())
        if facts["total_ops"] is None:
            facts["total_ops"] = sum(r["count"] for r in rows)
    facts["cpu_ops"] = cpu_ops
    facts["cpu_reasons"] = cpu_reasons
    if facts["ops_on_cpu"] is not None:
        facts["fully_mapped"] = facts["ops_on_cpu"] == 0
    elif "not all operations are supported by the Edge TPU" in text:
        facts["fully_mapped"] = False
    else:
        facts["fully_mapped"] = None
    if "Compilation succeeded" in text:
        facts["succeeded"] = True
    elif re.search(r"Compilation failed|Model not compiled|ERROR:", text):
        facts["succeeded"] = False
    else:
        facts["succeeded"] = None
    flags = []
    if facts["fully_mapped"] is False:
        flags.append("cpu_ops")
    if (facts["off_chip_memory_bytes"] or 0) > 0:
        flags.append("off_chip_parameters")
    if (facts["subgraphs"] or 0) > 1:
        flags.append("multiple_subgraphs")
    facts["flags"] = flags
    return facts


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
        log = Path(tmp) / "model_edgetpu.log"
        log_text = log.read_text(errors="replace") if log.is_file() else ""
        if result.returncode != 0 or not compiled.is_file():
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            raise CompilerRejected(" | ".join(lines[-4:]) or f"exit code {result.returncode}")
        write_bytes(out, compiled.read_bytes())
    rows = parse_operations(output + "\n" + log_text)
    ops: dict[str, int] = {}
    for row in rows:
        ops[row["op"]] = ops.get(row["op"], 0) + row["count"]
    version = re.search(r"Edge TPU Compiler version (\S+)", output)
    # the summary first, the operation log's table after it (its table wins where both have one)
    facts = parse_compiler_log(output + "\n" + log_text)
    return {
        "ops": ops,
        "op_mapping": rows,
        "ops_on_edgetpu": sum(r["count"] for r in rows if r["status"] == MAPPED),
        "edgetpu": facts,
        "tool_versions": {COMPILER: version[1] if version else facts["compiler_version"]},
    }


class EdgetpuConverter(FileConverter):
    """The Edge TPU compiler, from the int8 TFLite file."""

    name = "edgetpu"
    rank = 40
    formats = (
        Format("edgetpu-int8", "edgetpu", "int8", ".tflite", "edgetpu", "tflite-int8", "#e45756"),
    )
    missing_tool = staticmethod(missing_tool)
    convert_file = staticmethod(convert_file)

    @staticmethod
    def flags(record: dict) -> list[str]:
        """Operations left on the CPU (with their names), parameters streamed off-chip."""
        facts = record.get("edgetpu") or {}
        found = []
        for flag in facts.get("flags") or []:
            if flag == "cpu_ops" and facts.get("cpu_ops"):
                ops = ", ".join(f"{op} x{n}" for op, n in sorted(facts["cpu_ops"].items()))
                found.append(f"cpu_ops ({ops})")
            else:
                found.append(flag)
        return found
