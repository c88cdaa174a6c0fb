class ConfigError(ValueError):
    """Bad configuration: the message names the bad value, the valid ones and the fix."""


def unknown(kind: str, value: str, valid, where: str) -> ConfigError:
    listed = ", ".join(sorted(valid)) or "(none)"
    return ConfigError(f"unknown {kind} {value!r} in {where}; valid {kind}s: {listed}")


class Refused(SystemExit):
    """A ConfigError met while the workflow loads, as the Snakefile raises it: Python prints
    the message alone on stderr and exits with status 1. Snakemake would print any exception
    it catches under a "WorkflowError in file .../common.smk, line N" line and a traceback
    line of the Snakefile, which say nothing about the mistake. The Python API
    (edgebench.api.workflow) turns it back into a ConfigError."""

    def __init__(self, error: ConfigError):
        super().__init__(f"edgebench configuration error: {error}")
        self.error = error
