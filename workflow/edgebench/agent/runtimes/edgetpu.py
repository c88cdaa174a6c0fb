"""Coral Edge TPU: an Edge TPU-compiled TFLite model through the libedgetpu delegate.

The interpreter comes from pycoral (`pycoral.utils.edgetpu.make_interpreter`), else from
tflite_runtime or ai_edge_litert with `load_delegate(LIBRARY, {"device": ...})`. Whether the
delegate library is installed, and whether a TPU is attached, is decided in the constructor, so
a device without them records an `unsupported` run before anything is timed.

The first inference copies the model's parameters into the TPU's memory (over USB for the USB
Accelerator): it is much slower than the rest. The agent already times the first inference
apart from steady state (`first_ns`), so it stays out of the latency figures with no extra work
here. The std runtime throttles a hot USB TPU; the max runtime clocks it higher and runs hotter
(`details()["clock"]` says which one is installed).
"""

from __future__ import annotations

import ctypes
import importlib
import platform
import re
import subprocess

from . import RuntimeUnavailable, import_first, version_of
from .tflite import LiteRT

LIBRARIES = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
DEVICE = re.compile(r"^(usb|pci)(:[0-9]+)?$")
DEVICE_TYPES = {0: "pci", 1: "usb"}  # enum edgetpu_device_type in libedgetpu's edgetpu_c.h
PACKAGES = {"max": "libedgetpu1-max", "std": "libedgetpu1-std"}


def delegate_library(system: str) -> str:
    """The Edge TPU delegate library's name on an OS (platform.system()'s name for it)."""
    return LIBRARIES.get(system, LIBRARIES["Linux"])


def check_device(device: str | None) -> str | None:
    """The `edgetpu_device` setting as the delegate takes it: "usb", "usb:N", "pci", "pci:N"
    (the N-th TPU of that kind), or None for the first TPU found."""
    if device is None:
        return None
    if not isinstance(device, str) or DEVICE.match(device) is None:
        raise ValueError(
            f"Edge TPU device {device!r} is not one of 'usb', 'usb:N', 'pci', 'pci:N' "
            "(or unset for the first one found)"
        )
    return device


def missing_library_reason(library: str) -> str:
    return (
        f"the Edge TPU runtime {library} is not installed on this device: install "
        "libedgetpu1-std (or -max) from the Coral apt repository"
    )


def load_library(library: str):
    """The delegate library through ctypes, or RuntimeUnavailable naming how to install it."""
    try:
        return ctypes.CDLL(library)
    except OSError as error:
        raise RuntimeUnavailable(missing_library_reason(library)) from error


def list_devices(lib) -> list[dict] | None:
    """The TPUs libedgetpu sees ([{"type": "usb", "path": ...}]), None where it cannot tell."""

    class Device(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("path", ctypes.c_char_p)]

    try:
        list_fn, free_fn = lib.edgetpu_list_devices, lib.edgetpu_free_devices
    except AttributeError:
        return None
    list_fn.restype = ctypes.POINTER(Device)
    list_fn.argtypes = [ctypes.POINTER(ctypes.c_size_t)]
    free_fn.argtypes = [ctypes.POINTER(Device)]
    count = ctypes.c_size_t(0)
    pointer = list_fn(ctypes.byref(count))
    devices = []
    if pointer:
        for index in range(count.value):
            entry = pointer[index]
            path = entry.path.decode(errors="replace") if entry.path else ""
            devices.append({"type": DEVICE_TYPES.get(entry.type, str(entry.type)), "path": path})
        free_fn(pointer)
    return devices


def device_present(device: str | None, devices: list[dict]) -> bool:
    """Whether the TPU that `device` names is among those found."""
    if device is None:
        return bool(devices)
    kind, _, index = device.partition(":")
    of_kind = [d for d in devices if d["type"] == kind]
    return len(of_kind) > (int(index) if index else 0)


def runtime_version(lib) -> str | None:
    """libedgetpu's own version string (edgetpu_version() of its C API)."""
    try:
        version = lib.edgetpu_version
    except AttributeError:
        return None
    version.restype = ctypes.c_char_p
    version.argtypes = []
    text = version()
    return text.decode(errors="replace") if text else None


def dpkg_query(package: str, field: str) -> str | None:
    """A field of an installed Debian package (dpkg-query), None where dpkg is absent or the
    package is not installed."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", f"--showformat=${{{field}}}", package],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def installed_clock() -> str | None:
    """ "max" or "std": which libedgetpu Debian package is installed (the two conflict), None
    where dpkg is absent or neither is installed (a runtime from Coral's zip or a macOS/Windows
    installer)."""
    for clock, package in PACKAGES.items():
        status = dpkg_query(package, "Status")
        if status is not None and status.split()[-1:] == ["installed"]:
            return clock
    return None


class EdgeTPU(LiteRT):
    """An Edge TPU-compiled model on a Coral Edge TPU (USB Accelerator, M.2/PCIe, Dev Board)."""

    name = "edgetpu"
    modules = {
        "pycoral": "pycoral.utils.edgetpu:make_interpreter",
        "tflite_runtime": "tflite_runtime.interpreter:Interpreter",
        "ai_edge_litert": "ai_edge_litert.interpreter:Interpreter",
    }
    suffixes = (".tflite",)
    options = {
        "edgetpu_device": {
            "description": (
                "Edge TPU of edgetpu-* formats: usb, usb:N, pci, pci:N (unset: the first found)."
            ),
            "type": "string",
            "pattern": DEVICE.pattern,
        }
    }
    summary = (
        "the TFLite interpreter with `load_delegate('libedgetpu.so.1', {'device': ...})` "
        "(`libedgetpu.1.dylib` on macOS, `edgetpu.dll` on Windows); the first inference (which "
        "loads the model into the TPU) is kept apart as always"
    )
    records = (
        "delegate library, device, TPUs found, libedgetpu version, clock library (`std` or "
        "`max`, from dpkg)"
    )

    def __init__(self, wanted: str | None = None, edgetpu_device: str | None = None):
        self.device = check_device(edgetpu_device)
        self.library = delegate_library(platform.system())
        lib = load_library(self.library)
        self.module, self._make = import_first(type(self), wanted)
        self.version = version_of(self.module)
        self._pycoral = self.module == "pycoral"
        # pycoral builds on tflite_runtime: its load_delegate is the one to use
        imported = self.modules[self.module].partition(":")[0]
        delegate_module = "tflite_runtime.interpreter" if self._pycoral else imported
        self._load_delegate = importlib.import_module(delegate_module).load_delegate
        self._libedgetpu_version = runtime_version(lib)
        self.devices = list_devices(lib)
        if self.devices is not None and not device_present(self.device, self.devices):
            found = ", ".join(f"{d['type']}:{d['path']}" for d in self.devices) or "none"
            raise RuntimeUnavailable(
                f"no Edge TPU {self.device or '(USB or PCIe)'} is attached to this device "
                f"(found: {found})"
            )
        self._clock = installed_clock()

    def _delegate(self):
        options = {"device": self.device} if self.device else {}
        try:
            return self._load_delegate(self.library, options)
        except (ValueError, OSError) as error:
            raise RuntimeUnavailable(
                f"the Edge TPU delegate ({self.library}) did not open "
                f"{self.device or 'the first Edge TPU'}: {error}"
            ) from error

    def prepare(self, model_path, batch, threads):
        self._interpreter = None  # release the previous batch size's delegate and TPU first
        delegate = self._delegate()
        if self._pycoral:  # its interpreter takes no thread count (threads serve CPU ops only)
            interpreter = self._make(model_path, delegate=delegate)
        else:
            interpreter = self._make(
                model_path=model_path, experimental_delegates=[delegate], num_threads=threads
            )
        details = interpreter.get_input_details()[0]
        if int(details["shape"][0]) != batch:  # the compiled model's batch size is fixed
            interpreter.resize_tensor_input(details["index"], [batch, *details["shape"][1:]])
        interpreter.allocate_tensors()
        self._interpreter = interpreter
        self._input = interpreter.get_input_details()[0]
        self._output = interpreter.get_output_details()[0]

    def details(self):
        facts = {
            "delegate_library": self.library,
            "device": self.device,
            "clock": self._clock,
            "libedgetpu_version": self._libedgetpu_version or self._package_version(),
        }
        if self.devices is not None:
            facts["devices_found"] = self.devices
        return facts

    def _package_version(self) -> str | None:
        return dpkg_query(PACKAGES[self._clock], "Version") if self._clock else None
