"""The workload catalog: models (config/models.yaml) and NeurIO blocks (config/blocks.yaml)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edgebench.settings.errors import ConfigError
from edgebench.settings.files import read_yaml, validated

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
GROUPS = ("models", "layer-blocks", "cell-blocks")


@dataclass(frozen=True)
class WorkloadSpec:
    """Everything needed to build one workload; the build rule reruns when this changes."""

    name: str
    group: str  # models | layer-blocks | cell-blocks
    family: str
    input_shape: list[int]
    weights: str  # imagenet | random | trained
    input_range: list[float] = field(default_factory=lambda: [0.0, 1.0])
    builder: str | None = None  # models: "module:function" or "file.py:function"
    classes: int | None = None
    dataset: str | None = None
    preprocessing: dict = field(default_factory=dict)
    block_kind: str | None = None
    params: dict = field(default_factory=dict)
    output_shape: list[int] | None = None
    metric: str = "top1"  # top1 | auc (edgebench.metrics.accuracy)
    test_set: str | None = None  # MLPerf Tiny task whose test set config tiny_data names

    @property
    def is_block(self) -> bool:
        return self.block_kind is not None

    def to_dict(self) -> dict:
        return asdict(self)


def load_catalog(root: Path = Path("."), weights: str = "random") -> dict[str, WorkloadSpec]:
    """Every known workload, models first, with the suite's weights policy applied."""
    models = _load_models(root / "config" / "models.yaml", weights)
    blocks = _load_blocks(root / "config" / "blocks.yaml")
    clash = models.keys() & blocks.keys()
    if clash:
        raise ConfigError(f"workload names used by both a model and a block: {sorted(clash)}")
    return {**models, **blocks}


def _check_name(name: str, where: Path) -> None:
    if not NAME.match(str(name)):
        raise ConfigError(
            f"workload name {name!r} in {where} is not allowed: use lower-case letters, digits "
            "and . _ - (pattern ^[a-z0-9][a-z0-9_.-]*$)"
        )


def _load_models(path: Path, weights: str) -> dict[str, WorkloadSpec]:
    specs = {}
    for name, entry in read_yaml(path).items():
        _check_name(name, path)
        entry = validated(dict(entry), "model.schema.yaml", f"model {name!r} in {path}")
        specs[name] = WorkloadSpec(
            name=name,
            group="models",
            family=entry["family"],
            input_shape=list(entry["input_shape"]),
            weights=entry.get("weights", weights),
            input_range=list(entry["input_range"]),
            builder=entry["builder"],
            classes=entry["classes"],
            dataset=entry.get("dataset"),
            preprocessing=entry.get("preprocessing", {}),
            metric=entry["metric"],
            test_set=entry.get("test_set"),
        )
    return specs


def _load_blocks(path: Path) -> dict[str, WorkloadSpec]:
    catalog = validated(read_yaml(path), "blocks.schema.yaml", str(path))
    specs = {}
    for name, entry in catalog.items():
        _check_name(name, path)
        _check_block_shapes(name, entry, path)
        specs[name] = WorkloadSpec(
            name=name,
            group=f"{entry['group']}-blocks",
            family=entry["kind"],
            input_shape=list(entry["input_shape"]),
            weights="random",
            input_range=list(entry.get("input_range", [-1.0, 1.0])),
            block_kind=entry["kind"],
            params=dict(entry.get("params", {})),
            output_shape=entry.get("output_shape"),
        )
    return specs


def _check_block_shapes(name: str, entry: dict, where: Path) -> None:
    """What the schema cannot say: params that must agree with the block's input_shape."""
    params, shape = entry.get("params", {}), list(entry["input_shape"])
    if entry["kind"] == "resnet_identity" and shape[-1] != 4 * params["filters"]:
        raise ConfigError(
            f"{where}: block {name!r}: a resnet_identity block adds its input to 4 * filters = "
            f"{4 * params['filters']} channels, but input_shape {shape} has {shape[-1]}; make "
            f"the last size of input_shape 4 * filters"
        )
    if entry["kind"] == "reshape" and math.prod(params["target_shape"]) != math.prod(shape):
        raise ConfigError(
            f"{where}: block {name!r}: 'params.target_shape' = {params['target_shape']} holds "
            f"{math.prod(params['target_shape'])} elements, but input_shape {shape} holds "
            f"{math.prod(shape)}; a reshape keeps every element"
        )
