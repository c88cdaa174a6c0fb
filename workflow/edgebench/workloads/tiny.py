"""The MLPerf Tiny reference models (Banbury et al. 2021) and readers for their test sets.

Each builder follows the reference training code in github.com/mlcommons/tiny,
``benchmark/training/``, layer for layer (L2 regularisers, which only shape training, are left
out), with the zoo's signature ``build(input_shape, classes, weights)``:

* ``image_classification`` (``tiny-ic``): ResNet-8, ``resnet_v1_eembc`` of
  ``image_classification/keras_model.py`` with 16 filters (the v0.5 reference), CIFAR-10;
* ``keyword_spotting`` (``tiny-kws``): DS-CNN ``ds_cnn`` of ``keyword_spotting/keras_model.py``
  (64 filters, a 10x4 stride-2 convolution and four depthwise-separable blocks), 49x10 MFCCs;
* ``visual_wake_words`` (``tiny-vww``): MobileNetV1 with width 0.25, ``mobilenet_v1`` of
  ``visual_wake_words/vww_model.py``, 96x96 RGB in [0, 1];
* ``anomaly_detection`` (``tiny-ad``): the dense autoencoder ``get_model`` of
  ``anomaly_detection/keras_model.py`` (640-128x4-8-128x4-640); its output is the
  reconstruction of its input, so ``classes`` (the two labels, normal and anomalous) does not
  shape it, and it is scored by AUC (``edgebench.metrics.accuracy``).

Weights: ``"random"`` (Keras' initialisers seeded like the zoo's). There are no ImageNet weights
for these models; ``"imagenet"`` raises :class:`WeightsUnavailableError`.

Test sets, one file or folder per task as the user has it on disk (nothing is downloaded):

* ``ic``: the CIFAR-10 "python version" folder ``cifar-10-batches-py`` (its ``test_batch``
  pickle); pixels stay 0..255, as the reference feeds them;
* ``kws``, ``vww``, ``ad``: a ``.npz`` with ``x_test`` (the model's input, preprocessed as the
  reference's scripts do: float MFCCs (N, 49, 10, 1); images (N, 96, 96, 3) scaled to [0, 1];
  log-mel vectors (N, 640) of 5 frames x 128 bands) and ``y_test`` (N,) integer labels (``ad``:
  0 normal, 1 anomalous). A trailing channel axis of size 1 may be left out.

:func:`write_accuracy_set` turns either into the ``x_test``/``y_test`` .npz the accuracy pass
reads, like ``datasets.write_accuracy_set`` does for ImageNet-style folders.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from keras import layers

from edgebench.fileio import atomic_path
from edgebench.workloads import input_rank
from edgebench.workloads.zoo import SEED, WeightsUnavailableError

CIFAR10_TEST_BATCH = "test_batch"
ANOMALY_LABELS = {0, 1}  # normal, anomalous


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _seed_random_weights(model: str, weights: str) -> None:
    if weights == "imagenet":
        raise WeightsUnavailableError(
            f"{model!r} is an MLPerf Tiny reference model: no ImageNet weights exist for it. "
            "Use `weights: random` (the tiny suite's setting)."
        )
    if weights != "random":
        raise ValueError(f"{model}: weights must be 'random' (or 'imagenet'); got {weights!r}.")
    keras.utils.set_random_seed(SEED)


def _conv(filters: int, kernel, strides=1):
    return layers.Conv2D(
        filters, kernel, strides=strides, padding="same", kernel_initializer="he_normal"
    )


def _bn_relu(x):
    return layers.Activation("relu")(layers.BatchNormalization()(x))


def _depthwise_separable(x, filters: int, strides: int = 1, initializer: str = "he_normal"):
    """3x3 depthwise then 1x1 pointwise convolution, each with batch norm and ReLU."""
    x = layers.DepthwiseConv2D(
        3, strides=strides, padding="same", depthwise_initializer=initializer
    )(x)
    x = _bn_relu(x)
    x = layers.Conv2D(filters, 1, padding="same", kernel_initializer=initializer)(x)
    return _bn_relu(x)


def _classifier(x, classes: int, pool_size, initializer: str = "glorot_uniform"):
    x = layers.AveragePooling2D(pool_size=pool_size)(x)
    x = layers.Flatten()(x)
    return layers.Dense(classes, activation="softmax", kernel_initializer=initializer)(x)


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------

RESNET8_FILTERS = 16


def _residual_stack(x, filters: int, strides: int):
    """Two 3x3 convolutions beside the identity, or a strided 1x1 projection where the shape
    changes."""
    y = _bn_relu(_conv(filters, 3, strides)(x))
    y = layers.BatchNormalization()(_conv(filters, 3)(y))
    if strides != 1:
        x = _conv(filters, 1, strides)(x)
    return layers.Activation("relu")(layers.add([x, y]))


@input_rank(3, "height, width, channels")
def image_classification(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """ResNet-8 for CIFAR-10: ~78.7 k parameters and ~12.5 M MACs at 32x32x3."""
    _seed_random_weights("image_classification", weights)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = _bn_relu(_conv(RESNET8_FILTERS, 3)(inputs))
    x = _residual_stack(x, RESNET8_FILTERS, strides=1)
    x = _residual_stack(x, RESNET8_FILTERS * 2, strides=2)
    x = _residual_stack(x, RESNET8_FILTERS * 4, strides=2)
    pool = int(min(x.shape[1:3]))
    outputs = _classifier(x, classes, pool, initializer="he_normal")
    return keras.Model(inputs, outputs, name="tiny_ic_resnet8")


DSCNN_FILTERS = 64
DSCNN_BLOCKS = 4


@input_rank(3, "frames, coefficients, channels")
def keyword_spotting(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """DS-CNN for 12 keywords: ~24.9 k parameters and ~2.7 M MACs at 49x10x1."""
    _seed_random_weights("keyword_spotting", weights)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = layers.Conv2D(DSCNN_FILTERS, (10, 4), strides=(2, 2), padding="same")(inputs)
    x = layers.Dropout(0.2)(_bn_relu(x))
    for _ in range(DSCNN_BLOCKS):
        x = _depthwise_separable(x, DSCNN_FILTERS, initializer="glorot_uniform")
    x = layers.Dropout(0.4)(x)
    # the reference pools over half the input, not the feature map (25x5 there): (24, 5)
    pool = (int(input_shape[0] / 2), int(input_shape[1] / 2))
    return keras.Model(inputs, _classifier(x, classes, pool), name="tiny_kws_dscnn")


MOBILENET_V1_025_FILTERS = 8  # 32 x alpha 0.25
# (stride, output filters) of the 13 depthwise-separable blocks
MOBILENET_V1_BLOCKS = (
    (1, 16),
    (2, 32),
    (1, 32),
    (2, 64),
    (1, 64),
    (2, 128),
    *[(1, 128)] * 5,
    (2, 256),
    (1, 256),
)


@input_rank(3, "height, width, channels")
def visual_wake_words(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """MobileNetV1 0.25: ~222 k parameters and ~7.5 M MACs at 96x96x3."""
    _seed_random_weights("visual_wake_words", weights)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = _bn_relu(_conv(MOBILENET_V1_025_FILTERS, 3, strides=2)(inputs))
    for strides, filters in MOBILENET_V1_BLOCKS:
        x = _depthwise_separable(x, filters, strides)
    pool = tuple(int(d) for d in x.shape[1:3])
    return keras.Model(inputs, _classifier(x, classes, pool), name="tiny_vww_mobilenetv1")


AUTOENCODER_WIDTHS = (128, 128, 128, 128, 8, 128, 128, 128, 128)


@input_rank(1, "features")
def anomaly_detection(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """Dense autoencoder for ToyADMOS: ~270 k parameters and ~0.26 M MACs at 640 inputs.
    `classes` (the two labels) does not shape it: the output is the input's reconstruction."""
    _seed_random_weights("anomaly_detection", weights)
    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = inputs
    for index, width in enumerate(AUTOENCODER_WIDTHS, start=1):
        x = layers.Dense(width, name=f"Dense_{index}")(x)
        x = layers.BatchNormalization(name=f"Batch_Normalization_{index}")(x)
        x = layers.Activation("relu")(x)
    outputs = layers.Dense(int(np.prod(input_shape)), name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="tiny_ad_autoencoder")


MODELS = {
    "ic": image_classification,
    "kws": keyword_spotting,
    "vww": visual_wake_words,
    "ad": anomaly_detection,
}


# --------------------------------------------------------------------------------------------
# Test sets
# --------------------------------------------------------------------------------------------


def load_cifar10_test(source: Path) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's test batch (the folder `cifar-10-batches-py` or its `test_batch` file) as
    (N, 32, 32, 3) float32 pixels 0..255 and (N,) int64 labels."""
    source = Path(source)
    batch = source / CIFAR10_TEST_BATCH if source.is_dir() else source
    if not batch.is_file():
        raise FileNotFoundError(
            f"no CIFAR-10 test batch at {batch}: point at the 'cifar-10-batches-py' folder of "
            "the python version of CIFAR-10"
        )
    with open(batch, "rb") as handle:
        # the reference reads it so too; a pickle runs code, so only open files you trust
        entries = pickle.load(handle, encoding="bytes")
    pixels = np.asarray(entries[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    images = pixels.transpose(0, 2, 3, 1).astype(np.float32)
    return images, np.asarray(entries[b"labels"], dtype=np.int64)


def load_prepared(source: Path) -> tuple[np.ndarray, np.ndarray]:
    """A prepared test set: a .npz holding `x_test` and `y_test`."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"no prepared test set {source} (a .npz with x_test, y_test)")
    with np.load(source) as data:
        missing = {"x_test", "y_test"} - set(data.files)
        if missing:
            raise ValueError(f"{source}: no {sorted(missing)} (has {sorted(data.files)})")
        return data["x_test"].astype(np.float32), data["y_test"].astype(np.int64).ravel()


LOADERS: dict[str, Callable[[Path], tuple[np.ndarray, np.ndarray]]] = {
    "ic": load_cifar10_test,
    "kws": load_prepared,
    "vww": load_prepared,
    "ad": load_prepared,
}


def load_test_set(task: str, source: Path, input_shape) -> tuple[np.ndarray, np.ndarray]:
    """One task's test set, checked against the model's input shape (a missing trailing
    channel axis of size 1 is added) and, for `ad`, against the labels 0 and 1."""
    if task not in LOADERS:
        raise ValueError(f"unknown MLPerf Tiny task {task!r}; known: {', '.join(LOADERS)}")
    inputs, labels = LOADERS[task](source)
    expected = tuple(int(d) for d in input_shape)
    if inputs.shape[1:] != expected and inputs.shape[1:] + (1,) == expected:
        inputs = inputs[..., np.newaxis]
    if inputs.shape[1:] != expected:
        raise ValueError(f"{source}: inputs are {inputs.shape[1:]}, the model wants {expected}")
    if len(labels) != len(inputs):
        raise ValueError(f"{source}: {len(inputs)} inputs but {len(labels)} labels")
    if task == "ad" and not set(np.unique(labels)) <= ANOMALY_LABELS:
        raise ValueError(f"{source}: anomaly labels must be 0 (normal) or 1 (anomalous)")
    return inputs, labels


def write_accuracy_set(task: str, source: Path, input_shape, out_path: Path) -> int:
    """The task's test set as the .npz the accuracy pass reads (`x_test`, `y_test`)."""
    inputs, labels = load_test_set(task, source, input_shape)
    with atomic_path(out_path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, x_test=inputs, y_test=labels)
    return len(labels)
