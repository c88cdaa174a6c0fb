"""Facts about the device the agent runs on, recorded in the run header."""

from __future__ import annotations

import os
import platform
import socket
from pathlib import Path

CPUFREQ = "/sys/devices/system/cpu/cpu0/cpufreq"


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip("\x00\n ")
    except OSError:
        return None


def cpu_model() -> str:
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware"):
            return value.strip()
    return platform.processor() or platform.machine()


def device_facts() -> dict:
    return {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "os": platform.platform(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "governor": _read(f"{CPUFREQ}/scaling_governor"),
        "cpu_max_freq_khz": _read(f"{CPUFREQ}/scaling_max_freq"),
        "cpu_cur_freq_khz": _read(f"{CPUFREQ}/scaling_cur_freq"),
        "board": _read("/proc/device-tree/model"),
        "l4t_release": _read("/etc/nv_tegra_release"),
        "runtimes": runtime_versions(),
    }


def runtime_distributions() -> list[str]:
    """The distribution of every module an agent runtime can run with (its name, - for _), as
    the runtimes declare them (agent.runtimes), in their order of preference."""
    from .registry import PluginError
    from .runtimes import REGISTRY

    try:
        entries = list(REGISTRY.entries().values())
    except PluginError:  # a staged plugin that does not import here: the run says so
        entries = REGISTRY.built_ins()
    names = [module for entry in entries for module in entry.modules]
    return list(dict.fromkeys(name.replace("_", "-") for name in names))


def runtime_versions() -> dict[str, str]:
    """Every runtime distribution installed on the device, found without importing it."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in runtime_distributions():
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def peak_rss_kb() -> int | None:
    try:
        import resource

        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except (ImportError, OSError):
        return None
