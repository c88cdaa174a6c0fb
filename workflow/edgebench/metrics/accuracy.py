"""Accuracy of a converted model's outputs against labels and the float32 Keras reference.

Accuracy drop (reference top-1 minus converted top-1) is computed in `tables`, where both meet.
"""

from __future__ import annotations

import numpy as np

TOP5_MIN_CLASSES = 6  # top-5 only means something where there are more than 5 classes


def class_indices(labels: np.ndarray) -> np.ndarray:
    """Integer labels; one-hot rows are turned into their class index."""
    labels = np.asarray(labels)
    return labels.argmax(axis=1) if labels.ndim == 2 else labels.astype(np.int64).ravel()


def top_k_hits(outputs: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Per sample: is the label among the k highest outputs?"""
    top = np.argpartition(-outputs, k - 1, axis=1)[:, :k]
    return (top == labels[:, None]).any(axis=1)


def top1(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(outputs.argmax(axis=1) == labels))


def _checked(outputs, labels) -> tuple[np.ndarray, np.ndarray]:
    outputs = np.asarray(outputs)
    labels = class_indices(labels)
    if outputs.ndim != 2 or len(outputs) == 0:
        raise ValueError(f"outputs must be (samples, classes), got shape {outputs.shape}")
    if len(labels) != len(outputs):
        raise ValueError(f"{len(outputs)} outputs but {len(labels)} labels")
    return outputs, labels


def score(outputs, labels, reference_outputs=None) -> dict:
    """top1, top5 (None with 5 classes or fewer) and top-1 agreement with the reference."""
    outputs, labels = _checked(outputs, labels)
    classes = outputs.shape[1]
    result = {
        "samples": len(outputs),
        "classes": classes,
        "top1": top1(outputs, labels),
        "top5": None,
        "agreement": None,
    }
    if classes >= TOP5_MIN_CLASSES:
        result["top5"] = float(np.mean(top_k_hits(outputs, labels, 5)))
    if reference_outputs is not None:
        reference = np.asarray(reference_outputs)
        if reference.shape != outputs.shape:
            raise ValueError(f"outputs {outputs.shape} but reference outputs {reference.shape}")
        result["agreement"] = float(np.mean(outputs.argmax(axis=1) == reference.argmax(axis=1)))
    return result


def reference_accuracy(reference_outputs, labels) -> float:
    """Top-1 accuracy of the float32 reference model on the same inputs."""
    return top1(*_checked(reference_outputs, labels))
