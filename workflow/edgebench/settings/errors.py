class ConfigError(ValueError):
    """Bad configuration: the message names the bad value, the valid ones and the fix."""


def unknown(kind: str, value: str, valid, where: str) -> ConfigError:
    listed = ", ".join(sorted(valid)) or "(none)"
    return ConfigError(f"unknown {kind} {value!r} in {where}; valid {kind}s: {listed}")
