"""Shared fixtures: a throwaway copy of the project to run the real workflow in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from edgebench import warm
from edgebench.testing.project import copy_project

SNAKEMAKE = Path(sys.executable).parent / "snakemake"


# A user's builder file: a tiny CNN, and a model TFLite rejects (MatrixDeterminant).
USER_MODEL = '''
import keras


def tiny(input_shape, classes, weights):
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x))


@keras.saving.register_keras_serializable(package="my_models")
class Determinant(keras.layers.Layer):
    def call(self, x):
        import tensorflow as tf

        return tf.linalg.det(x)


def odd(input_shape, classes, weights):
    """MatrixDeterminant has no TFLite builtin kernel: the TFLite converter rejects it."""
    inputs = keras.Input(shape=tuple(input_shape))
    features = keras.ops.expand_dims(Determinant()(inputs), -1)
    return keras.Model(inputs, keras.layers.Dense(classes)(features))
'''


def pytest_sessionfinish(session):
    """The workflows the tests ran started warm servers (edgebench.warm): the session that
    started them stops them (the controller, once every worker is done) rather than leaving
    them for their idle timeout."""
    if not hasattr(session.config, "workerinput"):
        warm.stop_servers()


def readme_example(marker: str) -> str:
    """The code block after `<!-- example: MARKER -->` in README.md: a README promise the tests
    run as written."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split(f"<!-- example: {marker} -->\n", 1)[1]
    return block.split("```", 2)[1].split("\n", 1)[1]


def need(condition: bool, reason: str) -> None:
    """Skip a test whose real part is missing here, or fail it where CI promises the part
    (EDGEBENCH_REQUIRE_INTEGRATION=1, set by .ci/run)."""
    if condition:
        return
    if os.environ.get("EDGEBENCH_REQUIRE_INTEGRATION") == "1":
        pytest.fail(f"required for integration tests: {reason}")
    pytest.skip(reason)


class Project:
    """A project folder: its own config/ and devices/, the repo's workflow/ linked in."""

    def __init__(self, root: Path):
        self.root = copy_project(root)

    def write_yaml(self, relative: str, data) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def add_models(self, source: str, models: dict[str, dict]) -> None:
        """Register user models as a user would: a builder file plus config/models.yaml entries."""
        (self.root / "my_models.py").write_text(source)
        catalog = self.read_yaml("config/models.yaml")
        for name, entry in models.items():
            catalog[name] = {
                "family": "user",
                "builder": f"my_models.py:{entry.pop('function')}",
                **entry,
            }
        self.write_yaml("config/models.yaml", catalog)

    def read_yaml(self, relative: str):
        return yaml.safe_load((self.root / relative).read_text())

    def snakemake(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        result = subprocess.run(
            [str(SNAKEMAKE), "--cores", "2", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            env=env,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"snakemake {args} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def planned_jobs(self, *args: str) -> dict[str, int]:
        """Job counts per rule from a dry run (`snakemake -n`)."""
        output = self.snakemake("-n", "--quiet", "rules", *args).stdout
        counts = {}
        for line in output.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("job", "total"):
                counts[parts[0]] = int(parts[1])
        return counts


@pytest.fixture
def project(tmp_path) -> Project:
    return Project(tmp_path / "project")
