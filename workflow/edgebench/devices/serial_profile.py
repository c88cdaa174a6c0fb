"""A serial board's profile: its keys and defaults, what it may not say, and the ports two
devices of one run must not share (checked when the workflow loads)."""

from __future__ import annotations

import os
from pathlib import Path

from edgebench.devices.transport import transport_class
from edgebench.power import host_sources

DEFAULTS = {
    "baud": 115200,
    "windows": 5,
    "window_s": 10.0,
    "warmup_runs": 10,
    "calibration_runs": 10,
    "banner_wait_s": 10.0,
    "command_timeout_s": 5.0,
    "retries": 3,
    "backoff_s": 0.5,
    "input_encoding": "tensor",
}
# What the reference firmware reports (`m-model-...`) and the tiny suite's workload for it
FIRMWARE_MODELS = {"ic01": "tiny-ic", "kws01": "tiny-kws", "vww01": "tiny-vww", "ad01": "tiny-ad"}
SERIAL_ONLY = (
    "baud", "windows", "window_s", "warmup_runs", "calibration_runs", "banner_wait_s",
    "command_timeout_s", "models", "input_encoding",
)  # fmt: skip
# A serial profile's keys besides those; any other (threads, timing, host, python...) is refused
SERIAL_ALSO = ("name", "description", "transport", "formats", "board", "power", "port")
SERIAL_FORMATS = ("tflite-int8",)  # reference firmware runs int8 models
_SECONDS = {"type": "number", "exclusiveMinimum": 0}
# the profile keys of a serial board (the device schema's own besides)
SERIAL_OPTIONS = {
    "port": {
        "description": "The board's serial port, e.g. /dev/ttyACM0 or a /dev/serial/by-id/... "
        "link (stable across reboots).",
        "type": "string",
        "pattern": "^[A-Za-z0-9_./:+-]+$",
    },
    "baud": {"description": "Serial speed of the firmware's UART (default 115200).",
             "type": "integer", "minimum": 1},
    "windows": {"description": "Timed windows per run (default 5); the median is reported.",
                "type": "integer", "minimum": 1},
    "window_s": {"description": "Least length of a timed window in seconds (default 10).",
                 **_SECONDS},
    "warmup_runs": {"description": "Warm-up inferences before each window (infer N W; default "
                    "10).", "type": "integer", "minimum": 0},
    "calibration_runs": {"description": "Inferences of the window that sizes the others "
                         "(default 10).", "type": "integer", "minimum": 1},
    "banner_wait_s": {"description": "How long to wait for the boot banner before prompting "
                      "(default 10).", "type": "number", "minimum": 0},
    "command_timeout_s": {"description": "Longest wait for a reply to a command (default 5).",
                          **_SECONDS},
    "input_encoding": {
        "description": "How inputs are sent: tensor (the model's input bytes, default) or uint8 "
        "(int8 values + 128: the reference image-classification firmware subtracts 128 itself).",
        "type": "string",
        "enum": ["tensor", "uint8"],
    },
    "models": {
        "description": "The firmware's model id (what `profile%` reports as m-model-...) -> the "
        "workload it is. Default {ic01: tiny-ic, kws01: tiny-kws, vww01: tiny-vww, ad01: "
        "tiny-ad}.",
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": "^[a-z0-9]+$"},
        "additionalProperties": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$"},
    },
    "retries": {"description": "Attempts after the first when the board stops answering.",
                "type": "integer", "minimum": 0},
    "backoff_s": {"description": "First pause before a retry; doubles each time.",
                  "type": "number", "minimum": 0},
}  # fmt: skip


def serial_settings(profile: dict) -> dict:
    """The serial keys of a profile, defaults filled in (what the header records)."""
    keys = {**DEFAULTS, "models": FIRMWARE_MODELS}
    return {key: profile.get(key, default) for key, default in keys.items()}


def serial_profile_problems(profile: dict, catalog: dict) -> list[str]:
    """What a serial profile says that the firmware decides, or that cannot be there: its
    port, its models' workloads (nothing silently ignored)."""
    allowed = {*SERIAL_ONLY, *SERIAL_ALSO, *DEFAULTS}
    problems = [
        f"{key} does not apply to a serial board (its firmware decides; keys: "
        f"{', '.join(sorted(allowed))})"
        for key in profile
        if key not in allowed
    ]
    problems += [
        f"format {fmt} cannot run on MLPerf Tiny firmware (formats: {', '.join(SERIAL_FORMATS)})"
        for fmt in profile["formats"]
        if fmt not in SERIAL_FORMATS
    ]
    if profile["power"]["source"] not in host_sources():
        problems.append(
            f"power source {profile['power']['source']} runs on the board; a microcontroller "
            f"needs a meter the host reads ({', '.join(host_sources()[1:])}) or none"
        )
    if not Path(profile["port"]).exists():
        problems.append(
            f"port {profile['port']!r} does not exist: is the board plugged in? `ls "
            "/dev/serial/by-id/` lists the connected ones (to try the workflow without a board: "
            "python -m edgebench.testing.mcu_emulator, README)"
        )
    problems += [
        f"models maps {model_id} to {workload!r}, which is no workload (config/models.yaml, "
        "config/blocks.yaml)"
        for model_id, workload in serial_settings(profile)["models"].items()
        if workload not in catalog
    ]
    return problems


def shared_ports(profiles: list[dict]) -> list[str]:
    """Serial ports (boards' and meters') that two devices of one run name: both would fail."""
    users: dict[str, list[str]] = {}
    for profile in profiles:
        ports = transport_class(profile).ports(profile)
        ports += [profile["power"]["port"]] if profile["power"].get("port") else []
        for port in ports:
            users.setdefault(os.path.realpath(port), []).append(profile["name"])
    return [
        f"{port} is used by {' and '.join(names)}"
        for port, names in users.items()
        if len(names) > 1
    ]
