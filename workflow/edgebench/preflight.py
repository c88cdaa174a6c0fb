"""Checks the workflow makes when it loads, before any job: what would otherwise fail inside a
job minutes later (a builder that does not exist, a labels file with bad lines, a device Python
that is not there, timing settings that contradict each other) stops the run with a message
that names the file, the value and the fix.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

from edgebench.devices.dispatch import run_settings
from edgebench.devices.serial_profile import shared_ports
from edgebench.devices.transport import key_problems, transport_class
from edgebench.power import check_local_program, check_source, is_host_meter, power_settings
from edgebench.settings import ConfigError, Plan
from edgebench.workloads.datasets import read_labels


def check_plan(plan: Plan) -> None:
    for name in plan.workloads:
        spec = plan.spec(name)
        if spec.builder:
            check_builder(spec.builder, name, plan.root, spec.input_shape)
    if plan.imagenet_val and any(plan.accuracy_dataset(w) for w in plan.workloads):
        check_imagenet(plan.imagenet_val)
    check_tiny_data(plan)
    if plan.baseline:
        baseline_table(plan.baseline)
    if clashes := shared_ports(list(plan.devices.values())):
        raise ConfigError(
            f"two devices on one serial port: {'; '.join(clashes)}. One port reaches one "
            "board or meter: give each device its own, or run them one at a time"
        )
    for profile in plan.devices.values():
        transport = transport_class(profile)
        problems = key_problems(profile)
        problems += transport.check_profile(profile, plan.catalog or plan.workloads)
        if problems:
            raise ConfigError(f"devices/{profile['name']}.yaml: {'; '.join(problems)}")
        check_source(profile["power"], profile["name"])
        if transport.runs_here:
            check_local_program(profile["power"], profile["name"])
        check_host_meter(profile)
        run_settings(profile, plan.suite)
    check_schedule(plan)  # after each profile's own checks: a profile's mistake is said first


def check_schedule(plan: Plan) -> None:
    """`schedule: interleaved` needs a transport that runs the Python agent (the agent times
    the rounds), and `speedup_reference` an interleaved suite and one of its formats."""
    where = f"config/suites/{plan.suite_name}.yaml"
    reference = plan.suite.get("speedup_reference")
    if reference and plan.schedule != "interleaved":
        raise ConfigError(
            f"{where}: 'speedup_reference' = {reference!r} applies to schedule: interleaved "
            "only (paired speed-ups need formats timed in the same rounds); add schedule: "
            "interleaved or remove the key"
        )
    if reference and reference not in plan.formats:
        raise ConfigError(
            f"{where}: 'speedup_reference' = {reference!r} is not one of the run's formats "
            f"({', '.join(plan.formats)}); name one of them, or select it with --config formats="
        )
    if plan.schedule != "interleaved":
        return
    for name, profile in plan.devices.items():
        if not transport_class(profile).stages_agent:
            raise ConfigError(
                f"{where}: schedule: interleaved cannot run on device {name!r}: its transport "
                f"{profile['transport']!r} runs no Python agent on the board (firmware times "
                "one model at a time), so its formats cannot be timed in rounds; use a suite "
                "with schedule: sequential for this device (run it separately with "
                f"--config devices={name} suite=...), or remove it from 'devices'"
            )


def check_builder(
    reference: str, workload: str, root: Path = Path("."), input_shape: list[int] | None = None
) -> None:
    """`file.py:function` or `package.module:function` names a function that exists, found
    without running the module (importing TensorFlow at load would cost seconds), and
    `input_shape` has the rank the function declares with @input_rank, if it does."""
    location, _, function = reference.rpartition(":")
    where = f"model {workload!r} in config/models.yaml: builder {reference!r}"
    if location.endswith(".py"):
        source = root / location
        if not source.is_file():
            raise ConfigError(f"{where}: no file {source.resolve()}")
    else:
        try:
            found = importlib.util.find_spec(location)
        except (ImportError, ValueError):
            found = None
        if found is None or not found.origin or not found.origin.endswith(".py"):
            raise ConfigError(
                f"{where}: no importable module {location!r}; use 'package.module:function' "
                "or 'path/to/file.py:function' (see README, Adding a model)"
            )
        source = Path(found.origin)
    tree = ast.parse(source.read_text(), filename=str(source))
    if function not in top_level_names(tree):
        raise ConfigError(f"{where}: {source} defines no {function!r}")
    declared = declared_rank(tree, function)
    if declared and input_shape is not None and len(input_shape) != declared[0]:
        rank, axes = declared
        raise ConfigError(
            f"model {workload!r} in config/models.yaml: input_shape {list(input_shape)} has "
            f"{len(input_shape)} {'axis' if len(input_shape) == 1 else 'axes'}, but its builder "
            f"{reference!r} takes {rank}{f' ({axes})' if axes else ''}, without the batch "
            "axis; give input_shape that many sizes"
        )


def declared_rank(tree: ast.Module, function: str) -> tuple[int, str] | None:
    """(rank, axes) of `@input_rank(rank, axes)` on a top-level function, read from its
    source (edgebench.workloads.input_rank)."""
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name != function:
            continue
        for decorator in node.decorator_list:
            called = decorator.func if isinstance(decorator, ast.Call) else None
            name = getattr(called, "id", None) or getattr(called, "attr", None)
            if name == "input_rank":
                values = [ast.literal_eval(argument) for argument in decorator.args]
                named = {k.arg: ast.literal_eval(k.value) for k in decorator.keywords}
                values += [named[key] for key in ("rank", "axes") if key in named]
                return values[0], (values[1:] or [""])[0]
    return None


def top_level_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def check_imagenet(imagenet_val: dict) -> None:
    folder = Path(imagenet_val["path"]).expanduser()
    labels = folder / imagenet_val.get("labels", "labels.txt")
    if not folder.is_dir():
        raise ConfigError(
            f"config key imagenet_val.path: the folder {folder} does not exist; point it at an "
            "ImageNet-style folder you have (README, Datasets) or remove imagenet_val"
        )
    if not labels.is_file():
        raise ConfigError(
            f"config key imagenet_val.labels: no labels file {labels}; write one "
            "'<relative image path> <class index>' line per image"
        )
    try:
        entries = read_labels(labels)
    except ValueError as error:
        raise ConfigError(f"config key imagenet_val: {error}") from None
    missing = [path for path, _ in entries if not (folder / path).is_file()]
    if missing:
        raise ConfigError(
            f"config key imagenet_val: {labels} lists {len(missing)} image(s) that do not exist "
            f"in {folder}, e.g. {missing[0]!r}"
        )


def check_tiny_data(plan: Plan) -> None:
    """Every MLPerf Tiny test set named in config key tiny_data is there."""
    for task, location in (plan.tiny_data or {}).items():
        if not Path(location).expanduser().exists():
            raise ConfigError(
                f"config key tiny_data.{task}: {location} does not exist; point it at the test "
                "set you have (README, The tiny suite) or remove the key"
            )


def check_host_meter(profile: dict) -> None:
    """A meter the host reads must be there now (its port, its command), not minutes later."""
    if not is_host_meter(profile["power"]):
        return
    from edgebench.power.meters import PowerUnavailable, open_meter

    try:
        open_meter(power_settings(profile["power"])).check()
    except (PowerUnavailable, ValueError) as error:
        raise ConfigError(f"devices/{profile['name']}.yaml: power: {error}") from None


def baseline_table(baseline: str) -> Path:
    """The results table of config key `baseline`; a ConfigError when there is none."""
    from edgebench.compare.inputs import locate

    try:
        table, _ = locate(Path(baseline).expanduser())
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"config key baseline: {error}. Name the results you compare against, e.g. a copy "
            "made with `cp -r results results-before`, or remove the key"
        ) from None
    return table
