"""Edge TPU: the compiler's summary and operation log parsed into the conversion record (with a
stand-in edgetpu_compiler program on PATH where Coral's is absent), and the agent runtime's
choices that need no TPU: device strings, the delegate library per OS, the missing runtime
recorded as unavailable with how to install it, the installed clock read from dpkg."""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from edgebench.agent.runtimes import RuntimeUnavailable, load_runtime
from edgebench.agent.runtimes import edgetpu as runtime_edgetpu
from edgebench.agent.runtimes.edgetpu import (
    EdgeTPU,
    check_device,
    delegate_library,
    device_present,
    installed_clock,
    list_devices,
    runtime_version,
)
from edgebench.convert import edgetpu
from edgebench.convert.job import convert_workload
from edgebench.fileio import write_json
from edgebench.formats import FORMATS

MIB = 1024**2

# `edgetpu_compiler -s` on a model with two operations left for the CPU (Coral's format)
SUMMARY_CPU_OPS = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 1182 ms.

Input model: mobilenet_v2_1.0_224_quant.tflite
Input size: 3.41MiB
Output model: mobilenet_v2_1.0_224_quant_edgetpu.tflite
Output size: 3.88MiB
On-chip memory used for caching model parameters: 3.75MiB
On-chip memory remaining for caching model parameters: 4.21MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 72
Operation log: mobilenet_v2_1.0_224_quant_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage of the model will instead run on the CPU, which is slower. If possible, consider updating your model to use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 70
Number of operations that will run on CPU: 2
See the operation log file for individual operation details.
Compilation child process completed within timeout period.
Compilation succeeded!
"""  # noqa: E501

SUMMARY_MAPPED = """Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 951 ms.

Input model: mobilenet_v2_1.0_224_quant.tflite
Input size: 3.41MiB
Output model: mobilenet_v2_1.0_224_quant_edgetpu.tflite
Output size: 3.88MiB
On-chip memory used for caching model parameters: 3.75MiB
On-chip memory remaining for caching model parameters: 4.21MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 72
Operation log: mobilenet_v2_1.0_224_quant_edgetpu.log
See the operation log file for individual operation details.
Number of operations that will run on Edge TPU: 72
Number of operations that will run on CPU: 0
Compilation child process completed within timeout period.
Compilation succeeded!
"""

# the `<model>_edgetpu.log` the compiler writes beside the model
OPERATION_LOG = """Edge TPU Compiler version 16.0.384591198
Input: mobilenet_v2_1.0_224_quant.tflite
Output: mobilenet_v2_1.0_224_quant_edgetpu.tflite

Operator                       Count      Status

ADD                            10         Mapped to Edge TPU
CONV_2D                        35         Mapped to Edge TPU
DEPTHWISE_CONV_2D              17         Mapped to Edge TPU
QUANTIZE                       1          Operation is otherwise supported, but not mapped due to some unspecified limitation
SOFTMAX                        1          Mapped to Edge TPU
MEAN                           1          Operation is working on an unsupported data type
"""  # noqa: E501


def test_summary_with_cpu_operations():
    facts = edgetpu.parse_compiler_log(SUMMARY_CPU_OPS)
    assert facts["compiler_version"] == "16.0.384591198"
    assert facts["compile_ms"] == 1182
    assert facts["input_model"] == "mobilenet_v2_1.0_224_quant.tflite"
    assert facts["output_model"] == "mobilenet_v2_1.0_224_quant_edgetpu.tflite"
    assert facts["input_size_bytes"] == round(3.41 * MIB)
    assert facts["output_size_bytes"] == round(3.88 * MIB)
    assert facts["on_chip_memory_bytes"] == round(3.75 * MIB) == 3932160
    assert facts["on_chip_memory_remaining_bytes"] == round(4.21 * MIB)
    assert facts["off_chip_memory_bytes"] == 0
    assert (facts["subgraphs"], facts["total_ops"]) == (1, 72)
    assert (facts["ops_on_tpu"], facts["ops_on_cpu"]) == (70, 2)
    assert facts["fully_mapped"] is False
    assert facts["succeeded"] is True
    assert facts["flags"] == ["cpu_ops"]
    assert facts["cpu_ops"] == {}  # which ones: the operation log says


def test_summary_and_operation_log_merge():
    facts = edgetpu.parse_compiler_log(SUMMARY_CPU_OPS + "\n" + OPERATION_LOG)
    assert (facts["ops_on_tpu"], facts["ops_on_cpu"], facts["total_ops"]) == (70, 2, 72)
    assert facts["cpu_ops"] == {"QUANTIZE": 1, "MEAN": 1}
    assert facts["cpu_reasons"]["MEAN"] == ["Operation is working on an unsupported data type"]
    assert facts["on_chip_memory_bytes"] == 3932160
    assert facts["flags"] == ["cpu_ops"]


def test_operation_log_alone_counts_from_its_table():
    facts = edgetpu.parse_compiler_log(OPERATION_LOG)
    assert facts["compiler_version"] == "16.0.384591198"
    assert facts["input_model"] == "mobilenet_v2_1.0_224_quant.tflite"
    assert facts["output_model"] == "mobilenet_v2_1.0_224_quant_edgetpu.tflite"
    assert (facts["ops_on_tpu"], facts["ops_on_cpu"], facts["total_ops"]) == (63, 2, 65)
    assert facts["cpu_ops"] == {"QUANTIZE": 1, "MEAN": 1}
    assert facts["fully_mapped"] is False and facts["flags"] == ["cpu_ops"]
    assert facts["on_chip_memory_bytes"] is None  # the log does not say: empty, never zero


def test_fully_mapped_model():
    facts = edgetpu.parse_compiler_log(SUMMARY_MAPPED)
    assert (facts["ops_on_tpu"], facts["ops_on_cpu"]) == (72, 0)
    assert facts["fully_mapped"] is True
    assert facts["cpu_ops"] == {}
    assert facts["flags"] == []


def test_off_chip_parameters_and_several_subgraphs_are_flagged():
    text = SUMMARY_MAPPED.replace(
        "uncached model parameters: 0.00B", "uncached model parameters: 1.25MiB"
    ).replace("Edge TPU subgraphs: 1", "Edge TPU subgraphs: 2")
    facts = edgetpu.parse_compiler_log(text.replace("On-chip memory remaining", "x"))
    assert facts["off_chip_memory_bytes"] == 1310720
    assert facts["on_chip_memory_remaining_bytes"] is None
    assert facts["flags"] == ["off_chip_parameters", "multiple_subgraphs"]
    sizes = "Off-chip memory used for streaming uncached model parameters: {}"
    for size, expected in [("512.00B", 512), ("2.50KiB", 2560), ("1.00GiB", 1024**3)]:
        parsed = edgetpu.parse_compiler_log(sizes.format(size))
        assert parsed["off_chip_memory_bytes"] == expected


@pytest.mark.parametrize("cut", [0, 40, 180, 400, 700, len(SUMMARY_CPU_OPS) - 60])
def test_truncated_text_gives_what_it_holds(cut):
    facts = edgetpu.parse_compiler_log(SUMMARY_CPU_OPS[:cut])
    assert isinstance(facts["flags"], list) and isinstance(facts["cpu_ops"], dict)
    assert facts["ops_on_cpu"] is None or cut > 700
    if cut == 0:
        assert facts["compiler_version"] is None and facts["fully_mapped"] is None
    if cut == 400:  # cut inside the memory lines: the whole lines before it parse
        assert facts["input_size_bytes"] == round(3.41 * MIB)
        assert facts["ops_on_tpu"] is None and facts["fully_mapped"] is None
    if cut == 700:  # the warning survived, the counts did not
        assert facts["fully_mapped"] is False and facts["flags"] == ["cpu_ops"]


def test_malformed_text_never_crashes():
    for text in [
        "Input size: lots",
        "On-chip memory used for caching model parameters: 3.7",
        "Number of operations that will run on CPU: two",
        "Operator Count Status\nCONV_2D many Mapped to Edge TPU\nMEAN 1",
        "\x00\xff garbage \n\n",
        OPERATION_LOG[: OPERATION_LOG.index("MEAN") + 20],
    ]:
        facts = edgetpu.parse_compiler_log(text)
        assert facts["ops_on_cpu"] in (None, 1)
    facts = edgetpu.parse_compiler_log("Operator Count Status\nCONV_2D many Mapped to Edge TPU")
    assert facts["ops_on_tpu"] is None and facts["cpu_ops"] == {}


FAKE_COMPILER = """#!{python}
# Stands in for Coral's edgetpu_compiler (x86-64 Linux only): same arguments, same outputs
import shutil, sys
from pathlib import Path

args = sys.argv[1:]
out_dir = Path(args[args.index("--out_dir") + 1]) if "--out_dir" in args else Path(".")
model = Path(args[-1])
if {fail!r}:
    print("Edge TPU Compiler version 16.0.384591198")
    print("ERROR: Didn't find op for builtin opcode 'FULLY_CONNECTED' version '9'")
    print("Invalid model: " + model.name)
    print("Model could not be parsed")
    sys.exit(1)
stem = model.stem
shutil.copyfile(model, out_dir / (stem + "_edgetpu.tflite"))
(out_dir / (stem + "_edgetpu.log")).write_text({log!r})
print({summary!r}.replace("mobilenet_v2_1.0_224_quant", stem))
"""


def fake_compiler(bin_dir: Path, fail: bool = False) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "edgetpu_compiler"
    path.write_text(
        FAKE_COMPILER.format(
            python=sys.executable, fail=fail, log=OPERATION_LOG, summary=SUMMARY_CPU_OPS
        )
    )
    path.chmod(0o755)
    return path


def converted_source(root: Path) -> Path:
    """A workload folder whose tflite-int8 conversion is done (the Edge TPU's source)."""
    write_json(root / "w" / "meta.json", {"workload": "w"})
    model = root / "out" / "tflite-int8.tflite"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"TFL3 a stand-in int8 model")
    write_json(
        root / "out" / "tflite-int8.json",
        {
            "status": "ok",
            "reason": "",
            "model_file": model.name,
            "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
            "calibration": {"source": "seeded-random", "samples": 100, "seed": 0},
        },
    )
    return root / "w"


def test_conversion_record_holds_the_parsed_compiler_facts(tmp_path, monkeypatch):
    fake_compiler(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert edgetpu.missing_tool(FORMATS["edgetpu-int8"]) is None
    workload = converted_source(tmp_path)
    record = convert_workload(workload, "edgetpu-int8", tmp_path / "out" / "edgetpu-int8.json")
    assert record["status"] == "ok", record["reason"]
    assert (tmp_path / "out" / "edgetpu-int8.tflite").read_bytes().startswith(b"TFL3")
    assert record["tool_versions"]["edgetpu_compiler"] == "16.0.384591198"
    assert record["ops"]["CONV_2D"] == 35 and record["ops_on_edgetpu"] == 63
    facts = record["edgetpu"]
    assert (facts["ops_on_tpu"], facts["ops_on_cpu"]) == (70, 2)  # the summary's counts
    assert facts["cpu_ops"] == {"QUANTIZE": 1, "MEAN": 1}  # the operation log's table
    assert facts["on_chip_memory_bytes"] == 3932160 and facts["flags"] == ["cpu_ops"]
    assert facts["input_model"] == "model.tflite"


def test_compiler_refusing_the_model_is_an_unsupported_record(tmp_path, monkeypatch):
    fake_compiler(tmp_path / "bin", fail=True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    workload = converted_source(tmp_path)
    record = convert_workload(workload, "edgetpu-int8", tmp_path / "out" / "edgetpu-int8.json")
    assert record["status"] == "unsupported"
    assert "CompilerRejected" in record["reason"] and "FULLY_CONNECTED" in record["reason"]


@pytest.mark.parametrize("device", [None, "usb", "usb:0", "usb:12", "pci", "pci:1"])
def test_device_strings_the_delegate_takes(device):
    assert check_device(device) == device


@pytest.mark.parametrize("device", ["", "USB", "usb:", "usb:x", "pci:-1", "tpu", "usb:0:1", 1])
def test_other_device_strings_are_refused(device):
    with pytest.raises(ValueError, match="usb:N"):
        check_device(device)
    with pytest.raises(ValueError):  # before anything looks for the library
        EdgeTPU(edgetpu_device=device)


def test_delegate_library_per_operating_system():
    assert delegate_library("Linux") == "libedgetpu.so.1"
    assert delegate_library("Darwin") == "libedgetpu.1.dylib"
    assert delegate_library("Windows") == "edgetpu.dll"


def libedgetpu_installed() -> bool:
    try:
        ctypes.CDLL(delegate_library(__import__("platform").system()))
    except OSError:
        return False
    return True


@pytest.mark.skipif(libedgetpu_installed(), reason="libedgetpu is installed here")
def test_missing_libedgetpu_is_unavailable_with_how_to_install_it():
    hint = (
        "the Edge TPU runtime libedgetpu.so.1 is not installed on this device: install "
        "libedgetpu1-std (or -max) from the Coral apt repository"
    )
    if sys.platform.startswith("linux"):
        with pytest.raises(RuntimeUnavailable) as raised:
            EdgeTPU()
        assert str(raised.value) == hint
    with pytest.raises(RuntimeUnavailable, match="Coral apt repository"):
        load_runtime("edgetpu", "pycoral", {"edgetpu_device": "usb:0"})


def write_program(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(0o755)


def test_installed_clock_from_dpkg(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # a dpkg-query that knows one package: libedgetpu1-max, installed
    write_program(
        bin_dir / "dpkg-query",
        """
        import sys
        if sys.argv[-1] != "libedgetpu1-max":
            print(f"dpkg-query: no packages found matching {sys.argv[-1]}", file=sys.stderr)
            sys.exit(1)
        fields = {"${Status}": "install ok installed", "${Version}": "16.0"}
        print(fields[sys.argv[-2].partition("=")[2]], end="")
        """,
    )
    monkeypatch.setenv("PATH", str(bin_dir))
    assert installed_clock() == "max"
    assert runtime_edgetpu.dpkg_query("libedgetpu1-max", "Version") == "16.0"
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))  # no dpkg at all
    assert installed_clock() is None


def test_installed_clock_with_the_real_dpkg():
    if shutil.which("dpkg-query") is None:
        pytest.skip("no dpkg here")
    assert installed_clock() in (None, "max", "std")


STUB_LIBEDGETPU = r"""
#include <stddef.h>
#include <stdlib.h>
enum edgetpu_device_type { EDGETPU_APEX_PCI = 0, EDGETPU_APEX_USB = 1 };
struct edgetpu_device { enum edgetpu_device_type type; const char* path; };
struct edgetpu_device* edgetpu_list_devices(size_t* num_devices) {
  struct edgetpu_device* devices = malloc(2 * sizeof(struct edgetpu_device));
  devices[0].type = EDGETPU_APEX_USB; devices[0].path = "/sys/bus/usb/devices/2-1";
  devices[1].type = EDGETPU_APEX_PCI; devices[1].path = "/dev/apex_0";
  *num_devices = 2;
  return devices;
}
void edgetpu_free_devices(struct edgetpu_device* dev) { free(dev); }
const char* edgetpu_version(void) { return "BuildLabel(COMPILER=6.3.0), RuntimeVersion(14)"; }
"""


def test_device_listing_and_version_through_the_c_api(tmp_path):
    """libedgetpu's C API (edgetpu_c.h) read through ctypes, from a stub library built here."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or not sys.platform.startswith("linux"):
        pytest.skip("no C compiler to build the stub libedgetpu")
    (tmp_path / "stub.c").write_text(STUB_LIBEDGETPU)
    library = tmp_path / "libedgetpu-stub.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-o", str(library), str(tmp_path / "stub.c")], check=True
    )
    lib = runtime_edgetpu.load_library(str(library))
    devices = list_devices(lib)
    assert devices == [
        {"type": "usb", "path": "/sys/bus/usb/devices/2-1"},
        {"type": "pci", "path": "/dev/apex_0"},
    ]
    assert runtime_version(lib) == "BuildLabel(COMPILER=6.3.0), RuntimeVersion(14)"
    assert device_present(None, devices) and device_present("usb", devices)
    assert device_present("pci:0", devices) and not device_present("usb:1", devices)
    assert not device_present(None, [])
    with pytest.raises(RuntimeUnavailable, match="Coral apt repository"):
        runtime_edgetpu.load_library(str(tmp_path / "absent.so"))
