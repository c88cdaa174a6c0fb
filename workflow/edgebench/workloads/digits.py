"""A small CNN trained on scikit-learn's bundled 8x8 digits: real accuracy with no download."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgebench.fileio import atomic_path
from edgebench.workloads import input_rank

EPOCHS = 40


def prepare(out_path: Path, seed: int = 0, test_fraction: float = 0.3) -> dict:
    """Split the digits into a training part and a held-out part, scaled to [0, 1], NHWC."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    arrays = {
        "x_train": x_train,
        "y_train": y_train.astype(np.int64),
        "x_test": x_test,
        "y_test": y_test.astype(np.int64),
    }
    with atomic_path(out_path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
    return {name: len(a) for name, a in arrays.items() if name.startswith("y")}


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def build(input_shape, classes: int):
    import keras

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(64, activation="relu", name="fc1")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


@input_rank(3, "height, width, channels")
def train(input_shape, classes: int, weights: str = "trained", dataset: Path | None = None, seed=0):
    """Train deterministically on the training split; the held-out split stays unseen."""
    import keras
    import tensorflow as tf

    if dataset is None:
        raise ValueError("digits-cnn is trained: the build step must pass the digits dataset path")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    data = load(Path(dataset))
    model = build(input_shape, classes)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(data["x_train"], data["y_train"], epochs=EPOCHS, batch_size=32, verbose=2)
    loss, accuracy = model.evaluate(data["x_test"], data["y_test"], verbose=0)
    print(f"digits-cnn held-out accuracy {accuracy:.4f} (loss {loss:.4f})")
    return model
