"""Reading and validating the project's YAML files."""

from __future__ import annotations

from pathlib import Path

import yaml

from edgebench.settings.errors import ConfigError

SCHEMAS = Path(__file__).resolve().parents[3] / "config"


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a YAML mapping, found {type(data).__name__}")
    return data


def validated(data: dict, schema: str, where: str) -> dict:
    """Validate with Snakemake's validate (jsonschema, defaults filled in)."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(data, schema=str(schema_path(schema).resolve()), set_default=True)
    except WorkflowError as error:
        raise ConfigError(f"{where} does not match {schema}: {error}") from None
    return data


def schema_path(name: str) -> Path:
    local = Path("config") / name
    return local if local.exists() else SCHEMAS / name
