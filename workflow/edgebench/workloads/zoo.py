"""The whole-model zoo: Keras 3 functional models, one builder per model.

Every builder has the signature ``build(input_shape, classes, weights) -> keras.Model``:

* ``input_shape``: ``[height, width, channels]`` (channels last), without the batch axis;
* ``classes``: width of the softmax classifier;
* ``weights``: ``"imagenet"`` (published ImageNet weights, loaded by Keras) or ``"random"``
  (Keras' initialisers, seeded with ``keras.utils.set_random_seed(0)`` so a model is the same
  on every run).

``mobilenet_v2``, ``resnet50``, ``inception_v3`` and ``densenet121`` are thin wrappers over
``keras.applications``. ``squeezenet11`` and ``mnasnet_a1`` are written here from their papers
and reference implementations; Keras publishes no ImageNet weights for them.

A request for ImageNet weights that cannot be met raises :class:`WeightsUnavailableError`; a
model is never silently built with random weights instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

from edgebench.workloads import input_rank

WEIGHTS_CHOICES = ("imagenet", "random")
SEED = 0

_KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


class WeightsUnavailableError(RuntimeError):
    """The requested pretrained weights cannot be had (not published, not cached, no network)."""


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _check_weights(model: str, weights: str) -> None:
    if weights not in WEIGHTS_CHOICES:
        raise ValueError(
            f"{model}: weights must be one of {', '.join(WEIGHTS_CHOICES)}; got {weights!r}."
        )


def _keras_models_dir() -> str:
    """The folder where Keras caches application weights ($KERAS_HOME/models, ~/.keras/models)."""
    try:
        from keras.src.backend.config import keras_home

        home = keras_home()
    except ImportError:  # private accessor moved: fall back to Keras' documented rule
        home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return os.path.join(os.path.expanduser(home), "models")


def _weights_unavailable(
    model: str,
    *,
    weights_file: str | None = None,
    url: str | None = None,
    cause: BaseException | None = None,
) -> WeightsUnavailableError:
    """The one error message for every builder whose ImageNet weights cannot be had.

    With ``weights_file``, Keras publishes the weights but could not load or download them;
    without it, no ImageNet weights are published in Keras for this model.
    """
    if weights_file is None:
        return WeightsUnavailableError(
            f"No imagenet weights are published in Keras for {model!r}. "
            f"Use `weights: random` for this model in the suite, or register your own model "
            f'with its weights (see README "Adding a model").'
        )
    reason = f"{type(cause).__name__}: {cause}" if cause is not None else "unknown error"
    origin = f" (published at {url})" if url else ""
    return WeightsUnavailableError(
        f"Keras could not load or download the imagenet weights for {model!r}: {reason}. "
        f"Fix: put the weights file {weights_file}{origin} into {_keras_models_dir()}/ "
        f"(Keras' cache, ~/.keras/models/ unless KERAS_HOME is set), "
        f"or use `weights: random` for this model in the suite."
    )


# --------------------------------------------------------------------------------------------
# keras.applications wrappers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Application:
    """How to build one keras.applications model and where its ImageNet weights come from."""

    name: str
    constructor: Callable[..., keras.Model]
    default_input_shape: tuple[int, int, int]
    weights_file: str
    weights_url: str


def _build_application(
    app: _Application, input_shape: list[int], classes: int, weights: str
) -> keras.Model:
    _check_weights(app.name, weights)
    input_shape = tuple(int(d) for d in input_shape)
    keras.utils.set_random_seed(SEED)
    if weights == "random":
        return app.constructor(
            include_top=True,
            weights=None,
            input_shape=input_shape,
            classes=classes,
            classifier_activation="softmax",
        )
    # The published classifier fixes both the input shape and the number of classes. Check
    # them here so that a configuration mistake is reported as such, and every error past this
    # point is about getting the weights.
    if input_shape != app.default_input_shape or classes != 1000:
        raise ValueError(
            f"{app.name}: imagenet weights need input_shape "
            f"{list(app.default_input_shape)} and classes 1000; got {list(input_shape)} "
            f"and {classes}. Use `weights: random` for other shapes."
        )
    try:
        return app.constructor(
            include_top=True,
            weights="imagenet",
            input_shape=input_shape,
            classes=classes,
            classifier_activation="softmax",
        )
    except Exception as exc:  # get_file raises a bare Exception on a failed download
        raise _weights_unavailable(
            app.name, weights_file=app.weights_file, url=app.weights_url, cause=exc
        ) from exc


_MOBILENET_V2 = _Application(
    name="mobilenet_v2",
    constructor=keras.applications.MobileNetV2,
    default_input_shape=(224, 224, 3),
    weights_file="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
    weights_url=_KERAS_APPLICATIONS_URL
    + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
)
_RESNET50 = _Application(
    name="resnet50",
    constructor=keras.applications.ResNet50,
    default_input_shape=(224, 224, 3),
    weights_file="resnet50_weights_tf_dim_ordering_tf_kernels.h5",
    weights_url=_KERAS_APPLICATIONS_URL + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
)
_INCEPTION_V3 = _Application(
    name="inception_v3",
    constructor=keras.applications.InceptionV3,
    default_input_shape=(299, 299, 3),
    weights_file="inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
    weights_url=_KERAS_APPLICATIONS_URL
    + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
)
_DENSENET121 = _Application(
    name="densenet121",
    constructor=keras.applications.DenseNet121,
    default_input_shape=(224, 224, 3),
    weights_file="densenet121_weights_tf_dim_ordering_tf_kernels.h5",
    weights_url=_KERAS_APPLICATIONS_URL
    + "densenet/densenet121_weights_tf_dim_ordering_tf_kernels.h5",
)


@input_rank(3, "height, width, channels")
def mobilenet_v2(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """MobileNetV2 1.0 (Sandler et al. 2018), keras.applications."""
    return _build_application(_MOBILENET_V2, input_shape, classes, weights)


@input_rank(3, "height, width, channels")
def resnet50(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """ResNet-50 v1 (He et al. 2016), keras.applications."""
    return _build_application(_RESNET50, input_shape, classes, weights)


@input_rank(3, "height, width, channels")
def inception_v3(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """Inception v3 (Szegedy et al. 2016), keras.applications; standard input 299x299x3."""
    return _build_application(_INCEPTION_V3, input_shape, classes, weights)


@input_rank(3, "height, width, channels")
def densenet121(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """DenseNet-121 (Huang et al. 2017), keras.applications."""
    return _build_application(_DENSENET121, input_shape, classes, weights)


# --------------------------------------------------------------------------------------------
# SqueezeNet 1.1
# --------------------------------------------------------------------------------------------


def _fire(x, name: str, squeeze: int, expand1x1: int, expand3x3: int):
    """Fire module: 1x1 squeeze, then parallel 1x1 and 3x3 expands, concatenated."""
    x = layers.Conv2D(squeeze, 1, activation="relu", name=f"{name}_squeeze1x1")(x)
    left = layers.Conv2D(expand1x1, 1, activation="relu", name=f"{name}_expand1x1")(x)
    right = layers.Conv2D(
        expand3x3, 3, padding="same", activation="relu", name=f"{name}_expand3x3"
    )(x)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([left, right])


@input_rank(3, "height, width, channels")
def squeezenet11(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """SqueezeNet 1.1 (Iandola et al. 2016; DeepScale / torchvision ``squeezenet1_1``).

    No batch norm, like the reference. 1.235 M parameters and ~0.35 G MACs at 224x224x3.
    """
    _check_weights("squeezenet11", weights)
    if weights == "imagenet":
        raise _weights_unavailable("squeezenet11")
    keras.utils.set_random_seed(SEED)

    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = layers.Conv2D(64, 3, strides=2, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = _fire(x, "fire2", 16, 64, 64)
    x = _fire(x, "fire3", 16, 64, 64)
    x = layers.MaxPooling2D(3, strides=2, name="pool3")(x)
    x = _fire(x, "fire4", 32, 128, 128)
    x = _fire(x, "fire5", 32, 128, 128)
    x = layers.MaxPooling2D(3, strides=2, name="pool5")(x)
    x = _fire(x, "fire6", 48, 192, 192)
    x = _fire(x, "fire7", 48, 192, 192)
    x = _fire(x, "fire8", 64, 256, 256)
    x = _fire(x, "fire9", 64, 256, 256)
    x = layers.Dropout(0.5, name="drop9")(x)
    x = layers.Conv2D(classes, 1, activation="relu", name="conv10")(x)
    x = layers.GlobalAveragePooling2D(name="pool10")(x)
    outputs = layers.Activation("softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="squeezenet1_1")


# --------------------------------------------------------------------------------------------
# MnasNet-A1
# --------------------------------------------------------------------------------------------

# Batch norm as in the TF TPU reference (mnasnet_models.py): momentum 0.99, epsilon 1e-3.
_BN_MOMENTUM = 0.99
_BN_EPSILON = 1e-3

# MnasNet-A1 (Tan et al. 2019, Fig. 7; TF TPU mnasnet_models.py ``mnasnet_a1``):
# (repeats, kernel, first stride, expand ratio, output filters, squeeze-excite ratio).
_MNASNET_A1_STAGES = (
    (1, 3, 1, 1, 16, None),  # SepConv k3x3
    (2, 3, 2, 6, 24, None),  # MBConv6 k3x3
    (3, 5, 2, 3, 40, 0.25),  # MBConv3 k5x5 SE
    (4, 3, 2, 6, 80, None),  # MBConv6 k3x3
    (2, 3, 1, 6, 112, 0.25),  # MBConv6 k3x3 SE
    (3, 5, 2, 6, 160, 0.25),  # MBConv6 k5x5 SE
    (1, 3, 1, 6, 320, None),  # MBConv6 k3x3
)


def _bn(name: str):
    return layers.BatchNormalization(momentum=_BN_MOMENTUM, epsilon=_BN_EPSILON, name=name)


def _mbconv(x, name: str, kernel: int, stride: int, expand: int, filters: int, se_ratio):
    """Inverted-residual block of the reference ``MnasBlock`` (expand, depthwise, SE, project)."""
    in_filters = x.shape[-1]
    shortcut = x
    if expand != 1:
        x = layers.Conv2D(in_filters * expand, 1, use_bias=False, name=f"{name}_expand_conv")(x)
        x = _bn(f"{name}_expand_bn")(x)
        x = layers.ReLU(name=f"{name}_expand_relu")(x)
    x = layers.DepthwiseConv2D(
        kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dwconv"
    )(x)
    x = _bn(f"{name}_dwconv_bn")(x)
    x = layers.ReLU(name=f"{name}_dwconv_relu")(x)
    if se_ratio:
        reduced = max(1, int(in_filters * se_ratio))
        se = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_squeeze")(x)
        se = layers.Conv2D(reduced, 1, activation="relu", name=f"{name}_se_reduce")(se)
        se = layers.Conv2D(x.shape[-1], 1, activation="sigmoid", name=f"{name}_se_expand")(se)
        x = layers.Multiply(name=f"{name}_se_excite")([x, se])
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_project_conv")(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and in_filters == filters:
        x = layers.Add(name=f"{name}_add")([x, shortcut])
    return x


@input_rank(3, "height, width, channels")
def mnasnet_a1(input_shape: list[int], classes: int, weights: str) -> keras.Model:
    """MnasNet-A1 (Tan et al. 2019), BN + ReLU. 3.9 M parameters and ~312 M MACs at 224."""
    _check_weights("mnasnet_a1", weights)
    if weights == "imagenet":
        raise _weights_unavailable("mnasnet_a1")
    keras.utils.set_random_seed(SEED)

    inputs = keras.Input(shape=tuple(input_shape), name="input")
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = _bn("stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for stage, (repeats, kernel, stride, expand, filters, se_ratio) in enumerate(
        _MNASNET_A1_STAGES, start=1
    ):
        for index in range(repeats):
            x = _mbconv(
                x,
                name=f"stage{stage}_block{index + 1}",
                kernel=kernel,
                stride=stride if index == 0 else 1,
                expand=expand,
                filters=filters,
                se_ratio=se_ratio,
            )
    x = layers.Conv2D(1280, 1, use_bias=False, name="head_conv")(x)
    x = _bn("head_bn")(x)
    x = layers.ReLU(name="head_relu")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(0.2, name="head_dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="mnasnet_a1")


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

Builder = Callable[[list[int], int, str], keras.Model]

MODELS: dict[str, Builder] = {
    "mobilenet_v2": mobilenet_v2,
    "mnasnet_a1": mnasnet_a1,
    "resnet50": resnet50,
    "inception_v3": inception_v3,
    "densenet121": densenet121,
    "squeezenet11": squeezenet11,
}
