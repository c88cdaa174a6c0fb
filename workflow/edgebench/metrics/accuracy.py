"""Accuracy of a converted model's outputs against labels and the float32 Keras reference.

Accuracy drop (reference top-1 minus converted top-1) is one of the derived metrics
(metrics/derived.py).
"""

from __future__ import annotations

from pathlib import Path

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


def npz_array(path: Path, key: str) -> np.ndarray:
    with np.load(path) as data:
        if key not in data:
            raise ValueError(f"{path}: no array {key!r} (has {sorted(data.keys())})")
        return data[key]


def first_outputs(array: np.ndarray, count: int, path: Path, what: str) -> np.ndarray:
    if len(array) < count:
        raise ValueError(f"{path}: {len(array)} {what}, fewer than the {count} outputs scored")
    return array[:count]


def run_columns(run, labels_path: Path | None, reference_path: Path | None) -> dict:
    """The table's accuracy columns for one raw log (edgebench.rawlog.RawRun): its
    accuracy.npz scored against the labels and the reference; the host sent the first N test
    inputs, in order."""
    record = run.accuracy
    if record is None:
        return {"accuracy_note": "no accuracy run"}
    if record.get("status") != "ok":
        return {"accuracy_note": f"accuracy {record.get('status')}: {record.get('reason')}"}
    if labels_path is None:
        raise ValueError(f"{run.path}: has accuracy outputs but no labelled dataset was given")
    outputs = npz_array(run.path.parent / record["file"], "outputs")
    count = len(outputs)
    if record.get("samples") not in (None, count):
        raise ValueError(
            f"{run.path}: accuracy record says {record['samples']} samples, npz {count}"
        )
    labels = first_outputs(npz_array(labels_path, "y_test"), count, labels_path, "labels")
    reference = None
    if reference_path is not None:
        reference = first_outputs(
            npz_array(reference_path, "outputs"), count, reference_path, "outputs"
        )
    scores = score(outputs, labels, reference)
    return {
        "accuracy_samples": count,
        "accuracy_top1": scores["top1"],
        "accuracy_top5": scores["top5"],
        "reference_top1": (
            reference_accuracy(reference, labels) if reference is not None else None
        ),
        "agreement": scores["agreement"],
        "accuracy_note": None,
    }
