"""Reading and validating the project's YAML files.

Validation goes through Snakemake's `validate` (jsonschema, defaults filled in); a refusal is
turned into one sentence that names the key, the value, why it is refused and what is valid.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from edgebench.settings.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]  # the checkout this package is installed from
SCHEMAS = REPO / "config"
NAME = "[a-z0-9][a-z0-9_.-]*"
NAME_RULE = (
    "names use lower-case letters, digits and . _ - and start with a letter or digit "
    "(pattern ^[a-z0-9][a-z0-9_.-]*$)"
)


# libyaml's parser where PyYAML has it: the pure-Python one took 0.7 s of every workflow load
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str):
    return yaml.load(text, Loader=LOADER)  # noqa: S506  (a safe loader, in C)


def read_yaml(path: Path, schema: str | None = None) -> dict:
    """The mapping a YAML file holds; an empty file or another kind of value is refused saying
    what the file must hold (from `schema`'s description and required keys)."""
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        found = "is empty" if data is None else f"holds {yaml_kind(data)} {data!r}, not a mapping"
        raise ConfigError(f"{path} {found}; it must hold {expected_contents(schema)}")
    return data


def yaml_kind(value) -> str:
    kinds = {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def expected_contents(schema: str | None) -> str:
    """What a file of this schema holds, e.g. 'a device profile (devices/NAME.yaml): a YAML
    mapping with at least the keys name, transport, formats, power (config/device.schema.yaml)'."""
    if schema is None:
        return "a YAML mapping (key: value lines)"
    declared = load_yaml(schema_path(schema).read_text())
    what = declared.get("description", "").strip()
    what = f"{what[:1].lower()}{what[1:]}: " if what else ""
    required = declared.get("required", [])
    keys = f" with at least the key{'s' * (len(required) > 1)} {', '.join(required)}"
    keys = keys if required else ""
    return f"{what}a YAML mapping{keys} (config/{schema})"


def validated(
    data: dict, schema: str, where: str, valid_names: Callable[[str], list[str]] | None = None
) -> dict:
    """Validate with Snakemake's validate; `valid_names(key)` lists what a refused key accepts."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(data, schema=str(schema_path(schema).resolve()), set_default=True)
    except WorkflowError as error:
        cause = error.__context__  # the jsonschema ValidationError validate() caught
        if not hasattr(cause, "validator"):
            raise ConfigError(f"{where} does not match {schema}: {error}") from None
        raise ConfigError(describe(cause, where, valid_names)) from None
    return data


def describe(error, where: str, valid_names=None) -> str:
    """One sentence for a jsonschema ValidationError: key, value, why, and the valid values."""
    from jsonschema.exceptions import best_match

    if error.context:  # oneOf/anyOf: the alternative of the value's own type says most
        relevant = [e for e in error.context if e.validator != "type"] or error.context
        error = best_match(relevant)
    path = [str(part) for part in error.absolute_path]
    key = ".".join(path) if path else None
    value = error.instance
    if value in ("", None):
        return f"{where}: {key!r} is empty; name at least one{listed_names(path, valid_names)}"
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(value) - set(known)) if isinstance(value, dict) else []
        inside = f" under {key!r}" if key else ""
        return (
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}{inside}; "
            f"valid keys: {', '.join(known)}. Check the spelling (nothing unknown is ignored)."
        )
    if error.validator == "required":
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(value) - set(known)) if known and isinstance(value, dict) else []
        misspelt = (
            f" (unknown there: {', '.join(map(repr, unknown))}; valid keys: {', '.join(known)})"
            if unknown and error.schema.get("additionalProperties") is False
            else ""
        )
        return f"{where}: {error.message}{f' under {key!r}' if key else ''}{misspelt}"
    subject = f"{where}: {key!r} = {value!r}" if key else f"{where}: {value!r}"
    if error.validator == "pattern" and "" in str(value).split(",") and str(value) != "":
        names = ",".join(n for n in str(value).split(",") if n)
        return (
            f"{where}: {key!r} = {value!r} has an empty name in its list (a trailing, leading "
            f"or doubled comma); write {names!r}{listed_names(path, valid_names)}"
        )
    if error.validator == "pattern":
        bad = [n for n in str(value).split(",") if not re.fullmatch(NAME, n)]
        subject = f"{where}: {key!r} = {', '.join(map(repr, bad or [value]))}"
        reason = f"is refused: {NAME_RULE}"
    elif error.validator == "enum":
        valid = ("null" if v is None else str(v) for v in error.validator_value)
        reason = f"is not one of {', '.join(valid)}"
    elif error.validator in ("minimum", "exclusiveMinimum", "maximum"):
        reason = f"is out of range ({error.message})"
    elif error.validator in ("minItems", "maxItems"):
        reason = "is empty" if value == [] else f"has the wrong length ({error.message})"
        if error.schema.get("description"):
            reason += f": {error.schema['description']}"
    elif error.validator == "uniqueItems":
        reason = "lists a value more than once"
    else:
        reason = f"is refused: {error.message}"
    return f"{subject} {reason}{listed_names(path, valid_names)}"


def listed_names(path: list[str], valid_names) -> str:
    top_key = path[0] if path else ""
    valid = valid_names(top_key) if valid_names and top_key else []
    return f"; valid {top_key}: {', '.join(valid)}" if valid else ""


@functools.cache
def _as_json(path: Path, stamp: tuple[int, int]) -> str:
    return json.dumps(load_yaml(path.read_text()))


def as_json(path: Path) -> str:
    """A YAML schema file as JSON text, parsed once per process while the file is unchanged."""
    stat = path.stat()
    return _as_json(path.resolve(), (stat.st_mtime_ns, stat.st_size))


def schema_path(name: str) -> Path:
    """The schema file to validate against: the project's (or this checkout's) config/NAME,
    completed with what the plugin registries declare (edgebench.plugins.SCHEMA_FILLERS: the
    names and options of transports, runtimes, power sources), in a derived copy written as
    JSON with its siblings (so that its $refs to them resolve): Snakemake's validate reads JSON
    first, and parsing the YAML schemas in pure Python took 0.4 s of every workflow load."""
    from edgebench.plugins import SCHEMA_FILLERS, schema_filler

    local = Path("config") / name
    base = local if local.exists() else SCHEMAS / name
    schema = load_yaml(base.read_text())
    for filler in SCHEMA_FILLERS.get(name, []):
        schema_filler(filler)(schema)
    siblings = {path.name: as_json(path) for path in sorted(base.parent.glob("*.schema.yaml"))}
    siblings[name] = json.dumps(schema)
    digest = hashlib.sha256(repr(sorted(siblings.items())).encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"edgebench-schemas-{os.getuid()}" / digest
    derived = folder / name
    if not derived.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for sibling, content in sorted(siblings.items(), key=lambda item: item[0] == name):
            partial = folder / f".{sibling}.{os.getpid()}"  # this schema last: it marks done
            partial.write_text(content)
            partial.replace(folder / sibling)
    return derived
