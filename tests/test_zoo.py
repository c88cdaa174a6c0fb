"""The whole-model zoo: sizes against the published figures, weights errors, save/load."""

from __future__ import annotations

import urllib.error

import keras
import numpy as np
import pytest
from edgebench.workloads import zoo
from edgebench.workloads.meta import describe

# name: (standard input shape, published params, published MACs)
PUBLISHED = {
    "mobilenet_v2": ([224, 224, 3], 3.5e6, 300e6),
    "mnasnet_a1": ([224, 224, 3], 3.9e6, 312e6),
    # ~4.1 G is the torchvision (v1.5) figure; Keras' ResNet50 is v1 (stride in the first 1x1
    # conv of a stage) and counts ~3.9 G, inside the tolerance.
    "resnet50": ([224, 224, 3], 25.6e6, 4.1e9),
    "inception_v3": ([299, 299, 3], 23.9e6, 5.7e9),
    "densenet121": ([224, 224, 3], 8.0e6, 2.9e9),
    "squeezenet11": ([224, 224, 3], 1.24e6, 0.35e9),
}
PARAMS_TOLERANCE = 0.03
MACS_TOLERANCE = 0.10


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    keras.backend.clear_session()
    yield
    keras.backend.clear_session()


def test_registry_lists_all_models():
    assert set(zoo.MODELS) == set(PUBLISHED)


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_size_matches_published_figures(name):
    input_shape, params, macs = PUBLISHED[name]
    model = zoo.MODELS[name](input_shape, 1000, "random")
    facts = describe(model)

    assert facts["input_shape"] == [input_shape]
    assert facts["output_shape"] == [[1000]]
    assert facts["params"] == pytest.approx(params, rel=PARAMS_TOLERANCE)
    assert facts["macs"] == pytest.approx(macs, rel=MACS_TOLERANCE)


def test_layer_names_are_unique():
    for name in ("mnasnet_a1", "squeezenet11"):
        model = zoo.MODELS[name]([224, 224, 3], 10, "random")
        names = [layer.name for layer in model.layers]
        assert len(names) == len(set(names)), name
        keras.backend.clear_session()


def test_random_weights_are_reproducible():
    first = zoo.squeezenet11([64, 64, 3], 10, "random").get_weights()
    keras.backend.clear_session()
    second = zoo.squeezenet11([64, 64, 3], 10, "random").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("name", ["squeezenet11", "mnasnet_a1"])
def test_handwritten_models_have_no_imagenet_weights(name):
    with pytest.raises(zoo.WeightsUnavailableError) as error:
        zoo.MODELS[name]([224, 224, 3], 1000, "imagenet")
    message = str(error.value)
    assert name in message
    assert "weights: random" in message
    assert "Adding a model" in message


def test_imagenet_download_failure_raises_with_the_fix(tmp_path, monkeypatch):
    # An empty Keras cache and a network that cannot be reached: Keras reads KERAS_HOME once,
    # at import, so point its resolved home there as well.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr("keras.src.backend.config._KERAS_DIR", str(tmp_path))

    def unreachable(url, *args, **kwargs):
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr("keras.src.utils.file_utils.urlretrieve", unreachable)

    with pytest.raises(zoo.WeightsUnavailableError) as error:
        zoo.mobilenet_v2([224, 224, 3], 1000, "imagenet")
    message = str(error.value)
    assert "mobilenet_v2" in message
    assert "Network is unreachable" in message
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5" in message
    assert str(tmp_path / "models") in message
    assert "weights: random" in message
    assert not list((tmp_path / "models").glob("*.h5"))


def test_imagenet_with_a_non_standard_classifier_is_a_config_error():
    with pytest.raises(ValueError, match="classes 1000"):
        zoo.resnet50([224, 224, 3], 10, "imagenet")


def test_unknown_weights_value_is_rejected():
    with pytest.raises(ValueError, match="imagenet, random"):
        zoo.mnasnet_a1([224, 224, 3], 10, "pretrained")


@pytest.mark.parametrize("name", ["mnasnet_a1", "squeezenet11"])
def test_model_survives_keras_save_and_load(name, tmp_path):
    model = zoo.MODELS[name]([96, 96, 3], 10, "random")
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)

    x = np.random.default_rng(0).random((2, 96, 96, 3), dtype=np.float32)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
