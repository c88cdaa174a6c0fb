"""A serial board's profile: its keys and defaults, what it may not say, and the ports two
devices of one run must not share (checked when the workflow loads)."""

from __future__ import annotations

import os

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
HOST_POWER = ("none", "um24c", "um25c", "um34c", "serial-meter", "command")


def serial_settings(profile: dict) -> dict:
    """The serial keys of a profile, defaults filled in (what the header records)."""
    keys = {**DEFAULTS, "models": FIRMWARE_MODELS}
    return {key: profile.get(key, default) for key, default in keys.items()}


def profile_problems(profile: dict) -> list[str]:
    """What a profile says that its transport cannot honour (nothing silently ignored)."""
    if profile["transport"] != "serial":
        problems = [
            f"{key} applies to serial boards only (transport: serial)"
            for key in SERIAL_ONLY
            if key in profile
        ]
        if profile["transport"] == "local" and "lifeline_timeout_s" in profile:
            problems.append(
                "lifeline_timeout_s applies to ssh boards only (a local agent stops as soon as "
                "its job does: its stdin is a pipe on this machine)"
            )
        return problems
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
    if profile["power"]["source"] not in HOST_POWER:
        problems.append(
            f"power source {profile['power']['source']} runs on the board; a microcontroller "
            f"needs a meter the host reads ({', '.join(HOST_POWER[1:])}) or none"
        )
    return problems


def shared_ports(profiles: list[dict]) -> list[str]:
    """Serial ports (boards' and meters') that two devices of one run name: both would fail."""
    users: dict[str, list[str]] = {}
    for profile in profiles:
        ports = [profile["port"]] if profile["transport"] == "serial" else []
        ports += [profile["power"]["port"]] if profile["power"].get("port") else []
        for port in ports:
            users.setdefault(os.path.realpath(port), []).append(profile["name"])
    return [
        f"{port} is used by {' and '.join(names)}"
        for port, names in users.items()
        if len(names) > 1
    ]
