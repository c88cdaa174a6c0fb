"""The NeurIO block catalog: every block builds, has its documented shape and runs."""

import re
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml
from edgebench.workloads.blocks import BUILDERS, build_block
from edgebench.workloads.layers import Pad

CATALOG = yaml.safe_load((Path(__file__).parents[1] / "config/blocks.yaml").read_text())
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def random_input(shape, batch=2, seed=0):
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype("float32")


def test_catalog_has_60_layers_and_22_cells():
    assert Counter(spec["group"] for spec in CATALOG.values()) == {"layer": 60, "cell": 22}


@pytest.mark.parametrize("name", CATALOG)
def test_names_are_well_formed(name):
    assert NAME.match(name)
    assert name.startswith(f"{CATALOG[name]['group']}-")
    assert CATALOG[name]["kind"] in BUILDERS


@pytest.mark.parametrize("name", CATALOG)
def test_block_builds_with_documented_shape_and_runs(name):
    spec = CATALOG[name]
    keras.backend.clear_session()
    model = build_block(spec["kind"], spec["params"], spec["input_shape"], name=name)
    assert list(model.output.shape[1:]) == spec["output_shape"]

    outputs = keras.ops.convert_to_numpy(model(random_input(spec["input_shape"]), training=False))
    assert outputs.shape == (2, *spec["output_shape"])
    assert np.isfinite(outputs).all()


def test_unknown_kind_names_it_and_the_valid_kinds():
    with pytest.raises(ValueError, match=r"'conv4d'.*conv2d"):
        build_block("conv4d", {}, [8, 8, 8])


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("constant", [9.0, 9.0, 1.0, 2.0, 3.0, 9.0]),
        ("reflect", [3.0, 2.0, 1.0, 2.0, 3.0, 2.0]),
        ("symmetric", [2.0, 1.0, 1.0, 2.0, 3.0, 3.0]),
    ],
)
def test_pad_modes(mode, expected):
    x = np.array([1.0, 2.0, 3.0], "float32").reshape(1, 3, 1)
    padded = Pad([(2, 1)], mode=mode, constant_value=9.0)(x)
    assert keras.ops.convert_to_numpy(padded).ravel().tolist() == expected


def test_pad_block_survives_keras_save_and_load(tmp_path):
    spec = CATALOG["layer-pad2d-symmetric"]
    model = build_block(spec["kind"], spec["params"], spec["input_shape"])
    x = random_input(spec["input_shape"])
    model.save(tmp_path / "m.keras")

    loaded = keras.models.load_model(tmp_path / "m.keras")

    assert any(isinstance(layer, Pad) for layer in loaded.layers)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_reflect_pad_block_converts_to_tflite_and_matches_keras():
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = CATALOG["layer-pad2d-reflect"]
    model = build_block(spec["kind"], spec["params"], spec["input_shape"])
    x = random_input(spec["input_shape"], batch=1)
    function = tf.function(lambda inputs: model(inputs, training=False))
    frozen = convert_variables_to_constants_v2(
        function.get_concrete_function(tf.TensorSpec([1, *spec["input_shape"]], tf.float32))
    )
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()

    interpreter = Interpreter(model_content=flatbuffer)
    interpreter.allocate_tensors()
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    tflite_out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    assert "MIRROR_PAD" in ops
    np.testing.assert_allclose(tflite_out, model(x, training=False), atol=1e-5)


SCHEMA = yaml.safe_load((Path(__file__).parents[1] / "config/blocks.schema.yaml").read_text())


def test_the_catalog_schema_knows_exactly_the_builders_kinds():
    assert sorted(SCHEMA["$defs"]["block"]["properties"]["kind"]["enum"]) == sorted(BUILDERS)


def test_every_kind_has_its_params_declared_and_their_activations_are_keras_ones():
    """The schema checks each kind's params at load: every kind has a params schema, and the
    activation names it accepts are ones Keras knows."""
    declared = set()
    for rule in SCHEMA["$defs"]["block"]["allOf"]:
        kind = rule["if"]["properties"]["kind"]
        if "params" in rule["then"]["properties"]:
            declared.update(kind.get("enum", [kind.get("const")]))
    assert declared == set(BUILDERS)
    for name in set(SCHEMA["$defs"]["activation"]["enum"]) - {None}:
        assert keras.activations.get(name) is not None, name
