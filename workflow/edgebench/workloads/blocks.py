"""NeurIO benchmark blocks: single layers and small cells, each built as its own Keras model.

The catalog (``config/blocks.yaml``) names every block and gives its ``kind``, ``params`` and
``input_shape``; ``build_block`` turns one entry into a model. ``BUILDERS`` maps each kind to a
function ``(inputs, **params) -> outputs`` on Keras tensors. All feature maps are channels-last.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from edgebench.workloads.layers import Pad


def build_block(
    kind: str, params: dict, input_shape: list[int], name: str = "block"
) -> keras.Model:
    """A functional model of one block; the batch dimension is left dynamic."""
    if kind not in BUILDERS:
        raise ValueError(f"Unknown block kind {kind!r}; valid kinds: {', '.join(sorted(BUILDERS))}")
    inputs = keras.Input(shape=tuple(input_shape))
    outputs = BUILDERS[kind](inputs, **(params or {}))
    return keras.Model(inputs, outputs, name=name)


# A fresh BatchNormalization has zero offset and mean, so the TFLite converter folds its shift
# away and leaves a lone MUL. Random statistics keep the shift, as in a trained network.
TRAINED_LIKE_BATCH_NORM = {
    "beta_initializer": "random_normal",
    "moving_mean_initializer": "random_normal",
}


def batch_norm():
    return layers.BatchNormalization(**TRAINED_LIKE_BATCH_NORM)


# --- single layers ---------------------------------------------------------------------------


def single_layer(layer_class, **defaults) -> Callable:
    """A builder that applies one Keras layer; catalog params are its constructor arguments."""

    def build(x, **params):
        return layer_class(**{**defaults, **params})(x)

    build.__name__ = layer_class.__name__
    return build


def pad(x, mode: str, padding=1, constant_value: float = 0.0):
    """Zero padding uses Keras' own layers; constant, reflect and symmetric use ``Pad``."""
    if mode == "zero":
        zero_padding = {1: layers.ZeroPadding1D, 2: layers.ZeroPadding2D}[spatial_rank(x)]
        return zero_padding(padding)(x)
    return Pad(padding, mode=mode, constant_value=constant_value)(x)


# --- cells -----------------------------------------------------------------------------------


def skip_connection(x, merge: str, branches: int = 1, kernel_size: int = 3):
    """The input merged with ``branches`` parallel convolutions that keep its channel count."""
    channels = x.shape[-1]
    conv = conv_layer(x)
    paths = [x]
    for _ in range(branches):
        paths.append(conv(channels, kernel_size, padding="same", activation="relu")(x))
    return {"add": layers.Add, "concat": layers.Concatenate}[merge]()(paths)


def resnet_conv_block(x, filters: int, strides: int = 1):
    """ResNet50 bottleneck whose shortcut is a strided 1x1 projection to ``4 * filters``."""
    shortcut = layers.Conv2D(4 * filters, 1, strides=strides)(x)
    shortcut = batch_norm()(shortcut)
    return resnet_merge(bottleneck(x, filters, strides), shortcut)


def resnet_identity_block(x, filters: int):
    """ResNet50 bottleneck with the input itself as shortcut (input must have 4 * filters)."""
    return resnet_merge(bottleneck(x, filters, strides=1), x)


def bottleneck(x, filters: int, strides: int):
    x = conv_bn_relu(x, filters, 1, strides=strides)
    x = conv_bn_relu(x, filters, 3)
    x = layers.Conv2D(4 * filters, 1)(x)
    return batch_norm()(x)


def resnet_merge(residual, shortcut):
    return layers.ReLU()(layers.Add()([residual, shortcut]))


def conv_bn_relu(x, filters: int, kernel_size: int, strides: int = 1):
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding="same")(x)
    return layers.ReLU()(batch_norm()(x))


def dense_block(x, growth_rate: int, num_layers: int = 3, kernel_size: int = 3):
    """DenseNet: each BN-ReLU-Conv layer sees the concatenation of all earlier feature maps."""
    conv = conv_layer(x)
    for _ in range(num_layers):
        y = layers.ReLU()(batch_norm()(x))
        y = conv(growth_rate, kernel_size, padding="same")(y)
        x = layers.Concatenate()([x, y])
    return x


def inception_block(
    x,
    reduction: bool,
    filters_1: int,
    filters_3: int,
    filters_5: int,
    reduce_3: int = 0,
    reduce_5: int = 0,
    pool_proj: int = 0,
):
    """GoogLeNet module: 1, 3 and 5 wide convs and a 3-wide max pool, concatenated.

    With ``reduction`` 1x1 convs shrink the channels before the 3 and 5 wide convs and after
    the pool (the GoogLeNet module); without it, it is the paper's naive module.
    """
    conv = conv_layer(x)
    max_pool = {1: layers.MaxPooling1D, 2: layers.MaxPooling2D}[spatial_rank(x)]

    def conv_relu(y, filters, kernel_size):
        return conv(filters, kernel_size, padding="same", activation="relu")(y)

    pooled = max_pool(3, strides=1, padding="same")(x)
    if reduction:
        branch_3 = conv_relu(conv_relu(x, reduce_3, 1), filters_3, 3)
        branch_5 = conv_relu(conv_relu(x, reduce_5, 1), filters_5, 5)
        pooled = conv_relu(pooled, pool_proj, 1)
    else:
        branch_3 = conv_relu(x, filters_3, 3)
        branch_5 = conv_relu(x, filters_5, 5)
    return layers.Concatenate()([conv_relu(x, filters_1, 1), branch_3, branch_5, pooled])


def mobilenet_block(x, filters: int, strides: int = 1):
    """Depthwise-separable conv: DW3x3-BN-ReLU, then pointwise 1x1-BN-ReLU."""
    x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.ReLU()(batch_norm()(x))
    x = layers.Conv2D(filters, 1, use_bias=False)(x)
    return layers.ReLU()(batch_norm()(x))


def classifier(x, pooling: str, units: int = 10, pool_size: int = 2, activation="softmax"):
    """Network head: average pooling (windowed or global), Flatten, Dense."""
    if pooling == "average":
        x = layers.AveragePooling2D(pool_size)(x)
    elif pooling == "global":
        x = layers.GlobalAveragePooling2D()(x)
    else:
        raise ValueError(f"Unknown classifier pooling {pooling!r}; valid: average, global")
    return layers.Dense(units, activation=activation)(layers.Flatten()(x))


# --- helpers ---------------------------------------------------------------------------------


def spatial_rank(x) -> int:
    """Number of spatial axes of a batched channels-last tensor."""
    return len(x.shape) - 2


def conv_layer(x):
    """The Conv1D/2D/3D class that matches the spatial rank of ``x``."""
    return {1: layers.Conv1D, 2: layers.Conv2D, 3: layers.Conv3D}[spatial_rank(x)]


BUILDERS: dict[str, Callable] = {
    "conv1d": single_layer(layers.Conv1D, padding="same"),
    "conv2d": single_layer(layers.Conv2D, padding="same"),
    "conv3d": single_layer(layers.Conv3D, padding="same"),
    "depthwise_conv2d": single_layer(layers.DepthwiseConv2D, padding="same"),
    "dense": single_layer(layers.Dense),
    "avgpool1d": single_layer(layers.AveragePooling1D),
    "maxpool1d": single_layer(layers.MaxPooling1D),
    "avgpool2d": single_layer(layers.AveragePooling2D),
    "maxpool2d": single_layer(layers.MaxPooling2D),
    "activation": single_layer(layers.Activation),
    "batchnorm": single_layer(layers.BatchNormalization, **TRAINED_LIKE_BATCH_NORM),
    "reshape": single_layer(layers.Reshape),
    "pad": pad,
    "skip": skip_connection,
    "resnet_conv": resnet_conv_block,
    "resnet_identity": resnet_identity_block,
    "densenet": dense_block,
    "inception": inception_block,
    "mobilenet": mobilenet_block,
    "classifier": classifier,
}
