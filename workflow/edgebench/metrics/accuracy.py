"""Accuracy of a converted model's outputs against labels and the float32 Keras reference.

A workload's `metric` (config/models.yaml) says how: `top1` for classifiers; `auc` for an
autoencoder (MLPerf Tiny's anomaly detection), whose anomaly score per sample is the mean squared
error between its input and its reconstruction, and whose accuracy is the area under the ROC
curve of that score against labels 0 normal / 1 anomalous.

Accuracy drop (reference top-1 minus converted top-1) is one of the derived metrics
(metrics/derived.py); on AUC the table builder takes reference AUC minus AUC.

A check that cannot fail is not a pass: where the reference's top-1 predictions are degenerate
(one class for at least DEGENERATE_SHARE of the samples) or its accuracy is at chance (not two
binomial standard errors above the most frequent label's share), agreement and drop cannot show
a wrong conversion or input encoding. Those rows keep the measured top-1 figures, leave the drop
empty (`accuracy_informative` false) and say why in `accuracy_note`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TOP5_MIN_CLASSES = 6  # top-5 only means something where there are more than 5 classes
TOP1, AUC = "top1", "auc"
DEGENERATE_SHARE = 0.9  # one predicted class for this share of the samples
METRICS = (TOP1, AUC)


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


def anomaly_scores(inputs, outputs) -> np.ndarray:
    """Per sample: the mean squared error between the input and its reconstruction."""
    inputs = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
    outputs = np.asarray(outputs, dtype=np.float64).reshape(len(outputs), -1)
    if inputs.shape != outputs.shape:
        raise ValueError(f"inputs {inputs.shape} but reconstructions {outputs.shape}")
    return np.mean((inputs - outputs) ** 2, axis=1)


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve: the chance that an anomalous sample (label 1) scores above a
    normal one (label 0), a tie counting one half (the Mann-Whitney U statistic / n1 n0)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    if not set(np.unique(labels).tolist()) <= {0, 1}:
        raise ValueError("AUC labels must be 0 (normal) or 1 (anomalous)")
    if not np.isfinite(scores).all():
        raise ValueError("anomaly scores must be finite")
    anomalous = labels == 1
    positives, negatives = int(anomalous.sum()), int((~anomalous).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both normal (0) and anomalous (1) samples")
    ranks = average_ranks(scores)
    u_statistic = ranks[anomalous].sum() - positives * (positives + 1) / 2
    return float(u_statistic / (positives * negatives))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def score_auc(outputs, labels, inputs, reference_outputs=None) -> dict:
    """AUC of the reconstruction error, and the reference model's on the same inputs."""
    result = {"samples": len(outputs), "auc": roc_auc(anomaly_scores(inputs, outputs), labels)}
    result["reference_auc"] = (
        roc_auc(anomaly_scores(inputs, reference_outputs), labels)
        if reference_outputs is not None
        else None
    )
    return result


def score(outputs, labels, reference_outputs=None, metric: str = TOP1, inputs=None) -> dict:
    """top1, top5 (None with 5 classes or fewer) and top-1 agreement with the reference; with
    metric `auc`, the AUC of the reconstruction error of `inputs` instead (score_auc)."""
    if metric not in METRICS:
        raise ValueError(f"unknown accuracy metric {metric!r}; known: {', '.join(METRICS)}")
    if metric == AUC:
        if inputs is None:
            raise ValueError("metric auc scores reconstructions: the inputs are needed")
        return score_auc(outputs, labels, inputs, reference_outputs)
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


def uninformative(reference_outputs, labels) -> str | None:
    """Why the reference's predictions cannot tell a right conversion from a wrong one, or None."""
    reference, labels = _checked(reference_outputs, labels)
    predicted = reference.argmax(axis=1)
    classes, counts = np.unique(predicted, return_counts=True)
    n = len(predicted)
    if counts.max() >= DEGENERATE_SHARE * n:
        return (
            f"uninformative: the float32 reference predicts class {classes[counts.argmax()]} for "
            f"{counts.max()} of {n} samples, so agreement and drop cannot show a wrong "
            "conversion or input (random weights?)"
        )
    chance = np.unique(labels, return_counts=True)[1].max() / n
    accuracy = float(np.mean(predicted == labels))
    if accuracy <= chance + 2 * np.sqrt(chance * (1 - chance) / n):
        return (
            f"uninformative: the float32 reference's top-1 {accuracy:.3f} is at chance (the "
            f"most frequent label's share {chance:.3f}, {n} samples)"
        )
    return None


def npz_array(path: Path, key: str) -> np.ndarray:
    with np.load(path) as data:
        if key not in data:
            raise ValueError(f"{path}: no array {key!r} (has {sorted(data.keys())})")
        return data[key]


def first_outputs(array: np.ndarray, count: int, path: Path, what: str) -> np.ndarray:
    if len(array) < count:
        raise ValueError(f"{path}: {len(array)} {what}, fewer than the {count} outputs scored")
    return array[:count]


def run_columns(
    run, labels_path: Path | None, reference_path: Path | None, metric: str = TOP1
) -> dict:
    """The table's accuracy columns for one raw log (edgebench.rawlog.RawRun): its
    accuracy.npz scored against the labels and the reference; the host sent the first N test
    inputs, in order. With metric `auc`, the AUC columns; the top-1 ones stay empty."""
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
    if metric == AUC:
        inputs = first_outputs(npz_array(labels_path, "x_test"), count, labels_path, "inputs")
        return _auc_columns(score(outputs, labels, reference, AUC, inputs))
    scores = score(outputs, labels, reference, metric)
    note = uninformative(reference, labels) if reference is not None else None
    return {
        "accuracy_samples": count,
        "accuracy_top1": scores["top1"],
        "accuracy_top5": scores["top5"],
        "reference_top1": (
            reference_accuracy(reference, labels) if reference is not None else None
        ),
        "agreement": scores["agreement"],
        "accuracy_informative": note is None if reference is not None else None,
        "accuracy_note": note,
    }


def _auc_columns(scores: dict) -> dict:
    return {
        "accuracy_samples": scores["samples"],
        "accuracy_auc": scores["auc"],
        "reference_auc": scores["reference_auc"],
        "accuracy_note": None,
    }
