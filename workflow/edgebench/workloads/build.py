"""Build one workload from its spec, save it as .keras, and describe it in meta.json."""

from __future__ import annotations

import importlib
import importlib.util
import traceback
from collections.abc import Callable
from pathlib import Path

from edgebench.fileio import atomic_path, write_json, write_workload_meta
from edgebench.settings.catalog import WorkloadSpec
from edgebench.workloads import meta


class BuilderError(ValueError):
    """A model's builder reference cannot be resolved."""


def resolve_builder(reference: str) -> Callable:
    """`package.module:function` (importable) or `path/to/file.py:function` (relative to cwd)."""
    location, _, function = reference.rpartition(":")
    try:
        if location.endswith(".py"):
            path = Path(location)
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or not path.is_file():
                raise FileNotFoundError(f"no file {path.resolve()}")
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(location)
        return getattr(module, function)
    except (ImportError, FileNotFoundError, AttributeError) as error:
        raise BuilderError(
            f"builder {reference!r} cannot be loaded ({error}); it must be "
            "'package.module:function' or 'path/to/file.py:function' (see README, Adding a model)"
        ) from error


def build_model(spec: WorkloadSpec, dataset: Path | None = None):
    import keras

    import edgebench.workloads.layers  # noqa: F401  (custom layers must be registered)

    keras.utils.set_random_seed(0)
    if spec.is_block:
        from edgebench.workloads.blocks import build_block

        return build_block(spec.block_kind, spec.params, spec.input_shape, name=spec.name)
    builder = resolve_builder(spec.builder)
    kwargs = {"input_shape": list(spec.input_shape), "classes": spec.classes}
    kwargs["weights"] = spec.weights
    if spec.weights == "trained":
        kwargs["dataset"] = dataset
    model = builder(**kwargs)
    if not isinstance(model, keras.Model):
        raise BuilderError(
            f"builder {spec.builder!r} returned {type(model).__name__}, not a keras.Model; "
            "it must return the model it builds (see README, Adding a model)"
        )
    return model


def build_workload(spec: WorkloadSpec, model_path: Path, meta_path: Path, dataset=None) -> dict:
    import keras
    import tensorflow as tf

    model = build_model(spec, Path(dataset) if dataset else None)
    facts = meta.describe(model)
    with atomic_path(model_path) as tmp:
        model.save(tmp)
    info = {
        "workload": spec.name,
        "group": spec.group,
        "family": spec.family,
        "weights": spec.weights,
        "classes": spec.classes,
        "dataset": spec.dataset,
        "input_range": spec.input_range,
        "preprocessing": spec.preprocessing,
        "metric": spec.metric,
        "builder": spec.builder or f"edgebench.workloads.blocks:{spec.block_kind}",
        "params_config": spec.params,
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        **facts,
    }
    write_workload_meta(meta_path, info)
    return info


def build_job(spec: dict, model_path, meta_path, dataset, failure) -> int:
    """The build_workload job (edgebench.warm runs it): a builder that fails leaves its own
    error in `failure`, the tables' reason for the workload's rows."""
    spec = WorkloadSpec(**spec)
    try:
        info = build_workload(spec, Path(model_path), Path(meta_path), dataset=dataset)
    except Exception as caught:  # the builder's own error becomes the rows' reason
        traceback.print_exc()
        reason = f"{type(caught).__name__}: {caught}"
        write_json(failure, {"workload": spec.name, "status": "failed", "reason": reason[:1000]})
        return 1
    print(f"{spec.name}: {info['params']} params, {info['macs']} MACs")
    Path(failure).unlink(missing_ok=True)
    return 0
