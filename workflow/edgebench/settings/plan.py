"""The run plan: the devices, workloads and formats of one invocation, checked up front."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgebench import paths
from edgebench.formats import FORMATS
from edgebench.settings.catalog import GROUPS, WorkloadSpec, load_catalog
from edgebench.settings.errors import ConfigError, unknown
from edgebench.settings.files import read_yaml, validated
from edgebench.settings.timing import check_timing


@dataclass
class Plan:
    suite_name: str
    suite: dict
    devices: dict[str, dict]
    workloads: dict[str, WorkloadSpec]
    formats: list[str]
    containers: str
    imagenet_val: dict | None = None
    tiny_data: dict | None = None  # MLPerf Tiny task -> its test set on disk
    baseline: str | None = None  # earlier results the report compares this run against
    catalog: dict[str, WorkloadSpec] | None = None  # every known workload, selected or not
    root: Path = Path(".")

    def spec(self, workload: str) -> WorkloadSpec:
        """A selected workload, or any other in the catalog (a target asked for by path)."""
        if workload in self.workloads:
            return self.workloads[workload]
        if self.catalog and workload in self.catalog:
            return self.catalog[workload]
        raise unknown("workload", workload, self.catalog or self.workloads, "the requested target")

    def device(self, name: str) -> dict:
        """A selected device's profile, or another profile in devices/ (a target by path)."""
        if name not in self.devices:
            return load_device(name, self.root)
        return self.devices[name]

    def conversions(self) -> list[tuple[str, str]]:
        return [(w, f) for w in self.workloads for f in self.formats]

    def trained_on(self, workload: str) -> str | None:
        """The dataset file a workload is trained and int8-calibrated on, if any."""
        dataset = self.spec(workload).dataset
        return paths.dataset(dataset) if dataset else None

    def accuracy_dataset(self, workload: str) -> str | None:
        """What the accuracy pass feeds: the held-out split of a trained model's dataset, or
        the configured ImageNet-style folder preprocessed the model's way."""
        spec = self.spec(workload)
        if spec.dataset:
            return self.trained_on(workload)
        if spec.test_set and spec.test_set in (self.tiny_data or {}):
            return paths.tiny_set(workload)
        if self.imagenet_val and spec.group == "models" and spec.preprocessing:
            return paths.imagenet_set(workload)
        return None

    def run_rows(self) -> list[tuple[str, str, str]]:
        """Every device x workload x format the tables report on."""
        return [(d, w, f) for d in self.devices for w, f in self.conversions()]

    def runs(self) -> list[tuple[str, str, str]]:
        """The rows a device has a runtime for: each one is a run job."""
        return [(d, w, f) for d, w, f in self.run_rows() if f in self.devices[d]["formats"]]

    @property
    def schedule(self) -> str:
        """The suite's `schedule`: sequential (a job per run) or interleaved (a job per device
        and workload, its formats timed in rounds)."""
        return self.suite.get("schedule", "sequential")

    @property
    def speedup_reference(self) -> str | None:
        """The format paired speed-ups are measured against (interleaved only): the suite's
        `speedup_reference`, else the first selected format."""
        if self.schedule != "interleaved":
            return None
        return self.suite.get("speedup_reference") or self.formats[0]

    def interleaved_groups(self) -> dict[str, list[str]]:
        """Device -> the formats one interleaved job times together (the selected formats it
        runs, in the suite's order); empty under the sequential schedule."""
        if self.schedule != "interleaved":
            return {}
        return {
            name: [f for f in self.formats if f in profile["formats"]]
            for name, profile in self.devices.items()
            if any(f in profile["formats"] for f in self.formats)
        }


def parse_names(value, key: str, example: str) -> list[str]:
    """`--config key=a,b` arrives as the string "a,b"; a YAML list arrives as a list."""
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(n).strip() for n in names if str(n).strip()]
    if not names:
        raise ConfigError(f"config key {key!r} is empty; name at least one, e.g. {example}")
    return list(dict.fromkeys(names))


def parse_devices(value) -> list[str]:
    return parse_names(value, "devices", "local")


def resolved_config(config: dict) -> dict:
    """The config with its name lists as lists, whether they came as YAML or `a,b` strings."""
    lists = ("devices", "workloads", "formats")
    return {
        key: parse_names(value, key, "") if key in lists and value is not None else value
        for key, value in sorted(config.items())
    }


def restricted(suite: dict, config: dict) -> dict:
    """The suite, narrowed by the optional config keys `workloads` and `formats`."""
    suite = dict(suite)
    if config.get("workloads") is not None:
        names = parse_names(config["workloads"], "workloads", "layer-fc-128-32")
        suite.update(workloads=names, groups=[])
    if config.get("formats") is not None:
        formats = parse_names(config["formats"], "formats", "tflite-fp32")
        for fmt in formats:
            if fmt not in FORMATS:
                raise unknown("format", fmt, FORMATS, "config key 'formats'")
        suite["formats"] = formats
    return suite


def load_plan(config: dict, root: Path = Path(".")) -> Plan:
    suite_name = config.get("suite", "quick")
    suite = restricted(load_suite(suite_name, root), config)
    catalog = load_catalog(root, suite["weights"])
    devices = {name: load_device(name, root) for name in parse_devices(config["devices"])}
    workloads = {
        name: catalog[name]
        for name in select_workloads(suite, catalog, suite_name, _override_source(config))
    }
    for name, profile in devices.items():  # the profile's timing over the suite's (files
        # named as in the project folder)
        layers = [(f"config/suites/{suite_name}.yaml", suite.get("timing"))]
        layers.append((f"devices/{name}.yaml", profile.get("timing")))
        check_timing(layers, f"device {name!r}", default_processes(suite, workloads))
    return Plan(
        suite_name=suite_name,
        suite=suite,
        devices=devices,
        workloads=workloads,
        formats=list(suite["formats"]),
        containers=config.get("containers", "none"),
        imagenet_val=config.get("imagenet_val"),
        tiny_data=config.get("tiny_data"),
        baseline=config.get("baseline"),
        catalog=catalog,
        root=root,
    )


def default_processes(suite: dict, workloads: dict[str, WorkloadSpec]) -> tuple[int, ...]:
    """The process counts `processes: 0` gives these workloads (devices.dispatch.job_settings:
    3 for models and for every workload of an interleaved suite, 1 for blocks)."""
    if suite.get("schedule") == "interleaved":
        return (3,)
    counts = {3 if spec.group == "models" else 1 for spec in workloads.values()}
    return tuple(sorted(counts)) or (1,)


def _override_source(config: dict) -> str | None:
    return "config key 'workloads'" if config.get("workloads") is not None else None


def available(folder: Path, skip: tuple[str, ...] = ()) -> list[str]:
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem not in skip)


def load_suite(name: str, root: Path) -> dict:
    folder = root / "config" / "suites"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise unknown("suite", name, available(folder), "config key 'suite'")
    return validated(
        read_yaml(path, "suite.schema.yaml"), "suite.schema.yaml", str(path), config_names(root)
    )


def load_device(name: str, root: Path) -> dict:
    folder = root / "devices"
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise unknown("device", name, available(folder), "config key 'devices'")
    profile = validated(
        read_yaml(path, "device.schema.yaml"), "device.schema.yaml", str(path), config_names(root)
    )
    if profile["name"] != name:
        raise ConfigError(f"{path} says name: {profile['name']!r}; it must match the file name")
    for fmt in profile["formats"]:
        if fmt not in FORMATS:
            raise unknown("format", fmt, FORMATS, str(path))
    return profile


def config_names(root: Path = Path(".")):
    """What a refused key accepts, for the message: `valid_names(key)`."""

    def names(key: str) -> list[str]:
        if key == "devices":
            return available(root / "devices")
        if key == "suite":
            return available(root / "config" / "suites")
        if key == "formats":
            return list(FORMATS)
        if key == "workloads":
            return ["see config/models.yaml and config/blocks.yaml"]
        return []

    return names


# yes/no keys, which `--config key=false` delivers as a string (Snakemake reads only True/False)
SWITCHES = ("warm_server",)


def validate_config(config: dict, root: Path = Path(".")) -> dict:
    """The workflow config (config/config.yaml plus --config), checked before any job; a switch
    given as the text true/false (any case) becomes the boolean, in place, so that the jobs'
    `snakemake.config` holds the same."""
    for key in SWITCHES:
        if isinstance(config.get(key), str) and config[key].lower() in ("true", "false"):
            config[key] = config[key].lower() == "true"
    where = "config (config/config.yaml and --config)"
    return validated(config, "schema.yaml", where, config_names(root))


def select_workloads(
    suite: dict, catalog: dict[str, WorkloadSpec], suite_name: str, where: str | None = None
) -> list[str]:
    where = where or f"config/suites/{suite_name}.yaml"
    chosen = [name for name, spec in catalog.items() if spec.group in suite["groups"]]
    for name in suite["workloads"]:
        if name not in catalog:
            raise unknown("workload", name, catalog, where)
        chosen.append(name)
    if not chosen:
        raise ConfigError(f"{where} selects no workload: list some under 'workloads' or {GROUPS}")
    return list(dict.fromkeys(chosen))
