"""The MLPerf Tiny suite: reference models against the published figures, int8 conversion, the
test-set readers, AUC, and the table's AUC columns."""

from __future__ import annotations

import pickle

import keras
import numpy as np
import pytest
from edgebench.convert.job import convert_workload
from edgebench.fileio import read_json, write_json
from edgebench.metrics import accuracy
from edgebench.metrics.tables import build_table
from edgebench.settings import load_catalog
from edgebench.testing.project import REPO
from edgebench.workloads import tiny
from edgebench.workloads.build import build_workload
from edgebench.workloads.zoo import WeightsUnavailableError
from synthetic import write_conversion, write_run

TASKS = ["ic", "kws", "vww", "ad"]
SHAPES = {  # task: (input shape, output shape)
    "ic": ([32, 32, 3], [10]),
    "kws": ([49, 10, 1], [12]),
    "vww": ([96, 96, 3], [2]),
    "ad": ([640], [640]),
}
# Parameters counted layer by layer from the reference code (mlcommons/tiny,
# benchmark/training/*/keras_model.py, vww_model.py), batch-norm statistics included:
#   ic  ResNet-8: convs 448 + 2x2320 + 4640 + 9248 + 544 + 18496 + 36928 + 2112, dense 650,
#       7 batch norms 1344 = 78,666
#   kws DS-CNN: conv 2624, 4 x (depthwise 640 + pointwise 4160), dense 780, 9 batch norms
#       2304 = 24,908
#   vww MobileNetV1 0.25: Keras' MobileNet(alpha=0.25) body (218,544) + 2,736 conv biases,
#       dense 514 = 221,794
#   ad  autoencoder: dense 265,864 + 9 batch norms 4,128 = 269,992
REFERENCE_PARAMS = {"ic": 78_666, "kws": 24_908, "vww": 221_794, "ad": 269_992}
# Published figures (MLPerf Tiny, Banbury et al. 2021, the reference-model table as quoted in
# issue 14; the int8 model sizes also in Microprocessor Report, "MLPerf Gets Tiny", Aug. 2021:
# DS-CNN 53 KB, MobileNet 325 KB, ResNet 96 KB, FC-AutoEncoder 270 KB).
# Parameters only where the figure is a parameter count: KWS's 38.6 K is Hello Edge's memory
# figure (see the test below) and VWW's 325 K the int8 model's size in KB.
PUBLISHED_PARAMS = {"ic": 78e3, "ad": 270e3}
PUBLISHED_MACS = {"ic": 12.5e6, "kws": 2.7e6, "vww": 7.5e6, "ad": 0.264e6}
PUBLISHED_INT8_KB = {"ic": 96, "kws": 52.5, "vww": 325, "ad": 270}
PARAMS_TOLERANCE = 0.03
# the profiler also counts bias adds, batch norms and activations: +1 to +5% here
MACS_TOLERANCE = 0.10
# flatbuffer overhead differs between converter versions (here -17% to +7%)
INT8_SIZE_TOLERANCE = 0.25


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    keras.backend.clear_session()
    yield


@pytest.fixture(scope="module")
def workloads(tmp_path_factory):
    """Each tiny workload built as the workflow builds it: model.keras and meta.json."""
    root = tmp_path_factory.mktemp("tiny")
    catalog = load_catalog(REPO)
    for task in TASKS:
        folder = root / f"tiny-{task}"
        build_workload(catalog[f"tiny-{task}"], folder / "model.keras", folder / "meta.json")
    return root


def meta(workloads, task: str) -> dict:
    return read_json(workloads / f"tiny-{task}" / "meta.json")


@pytest.mark.parametrize("task", TASKS)
def test_builders_have_the_reference_shapes(workloads, task):
    facts = meta(workloads, task)
    input_shape, output_shape = SHAPES[task]
    assert facts["input_shape"] == [input_shape]
    assert facts["output_shape"] == [output_shape]


@pytest.mark.parametrize("task", TASKS)
def test_params_and_macs_match_the_reference_and_published_figures(workloads, task):
    facts = meta(workloads, task)
    assert facts["params"] == REFERENCE_PARAMS[task]
    if task in PUBLISHED_PARAMS:
        assert facts["params"] == pytest.approx(PUBLISHED_PARAMS[task], rel=PARAMS_TOLERANCE)
    assert facts["macs"] == pytest.approx(PUBLISHED_MACS[task], rel=MACS_TOLERANCE)


def test_kws_published_38_6k_is_its_8_bit_weights_plus_two_activation_buffers():
    """Hello Edge (Zhang et al. 2017), whose DS-CNN small MLPerf Tiny adopted, lists 38.6 KB
    of memory: the weights with batch norm folded in, plus two 25x5x64 feature maps."""
    model = tiny.keyword_spotting([49, 10, 1], 12, "random")
    batch_norm = sum(
        layer.count_params()
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    feature_map = 25 * 5 * 64
    assert model.count_params() - batch_norm + 2 * feature_map == 38_604


@pytest.mark.parametrize("task", TASKS)
def test_converts_to_int8_tflite_and_runs(workloads, task):
    folder = workloads / f"tiny-{task}"
    record = convert_workload(folder, "tflite-int8", folder / "tflite-int8.json", samples=20)
    assert record["status"] == "ok", record["reason"]
    kilobytes = record["size_bytes"] / 1000
    assert kilobytes == pytest.approx(PUBLISHED_INT8_KB[task], rel=INT8_SIZE_TOLERANCE)

    low, high = meta(workloads, task)["input_range"]
    inputs = np.random.default_rng(0).uniform(low, high, (1, *SHAPES[task][0]))
    outputs = run_int8_tflite(folder / record["model_file"], inputs.astype(np.float32))
    assert outputs.shape == (1, *SHAPES[task][1])
    assert np.isfinite(outputs).all()
    if task != "ad":  # softmax classifiers
        assert outputs.sum() == pytest.approx(1.0, abs=0.05)


def run_int8_tflite(path, inputs: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    (source,), (result,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert source["dtype"] == np.int8 and result["dtype"] == np.int8
    scale, zero = source["quantization"]
    quantized = np.clip(np.round(inputs / scale + zero), -128, 127).astype(np.int8)
    interpreter.set_tensor(source["index"], quantized)
    interpreter.invoke()
    scale, zero = result["quantization"]
    return (interpreter.get_tensor(result["index"]).astype(np.float32) - zero) * scale


def test_random_weights_are_reproducible_and_imagenet_is_refused():
    first = tiny.keyword_spotting([49, 10, 1], 12, "random").get_weights()
    second = tiny.keyword_spotting([49, 10, 1], 12, "random").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    with pytest.raises(WeightsUnavailableError, match="no ImageNet weights"):
        tiny.image_classification([32, 32, 3], 10, "imagenet")
    with pytest.raises(ValueError, match="weights must be"):
        tiny.anomaly_detection([640], 2, "trained")


# --- AUC ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),  # perfect separation
        ([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1], 0.0),  # reversed
        ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),  # all tied
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),  # 3 of 4 pairs ordered
        ([1.0, 2.0, 2.0, 3.0], [0, 1, 0, 1], 0.875),  # pairs 1, 1/2 (tie), 1, 1
    ],
)
def test_auc_by_hand(scores, labels, expected):
    assert accuracy.roc_auc(scores, labels) == pytest.approx(expected)


def test_auc_matches_scikit_learn_with_ties():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.normal(labels * 0.7, 1.0), 1)  # rounding makes many ties
    assert accuracy.roc_auc(scores, labels) == pytest.approx(
        metrics.roc_auc_score(labels, scores), abs=1e-12
    )


def test_auc_refuses_what_it_cannot_score():
    with pytest.raises(ValueError, match="both normal"):
        accuracy.roc_auc([0.1, 0.2], [1, 1])
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        accuracy.roc_auc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="finite"):
        accuracy.roc_auc([np.nan, 0.2], [0, 1])


def test_score_with_metric_auc_uses_the_reconstruction_error():
    inputs = np.zeros((4, 640), np.float32)
    errors = np.array([0.1, 0.4, 0.35, 0.8])  # mean squared error of each sample
    outputs = inputs + np.sqrt(errors)[:, None]
    assert accuracy.anomaly_scores(inputs, outputs) == pytest.approx(errors)
    reference = inputs + np.sqrt([0.1, 0.2, 0.8, 0.9])[:, None]
    scores = accuracy.score(outputs, [0, 0, 1, 1], reference, metric="auc", inputs=inputs)
    assert scores == {"samples": 4, "auc": pytest.approx(0.75), "reference_auc": 1.0}
    perfect_copies = accuracy.score(inputs, [0, 0, 1, 1], metric="auc", inputs=inputs)
    assert perfect_copies["auc"] == 0.5 and perfect_copies["reference_auc"] is None  # all tied
    with pytest.raises(ValueError, match="inputs are needed"):
        accuracy.score(outputs, [0, 0, 1, 1], metric="auc")
    with pytest.raises(ValueError, match="unknown accuracy metric"):
        accuracy.score(outputs, [0, 0, 1, 1], metric="top3")


# --- test sets -----------------------------------------------------------------------------------


def write_cifar10_test_batch(folder, images: np.ndarray, labels: list[int]):
    """The python version's layout: rows of 3072 bytes, the red plane, then green, then blue."""
    folder.mkdir(parents=True)
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    entries = {b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": rows}
    with open(folder / "test_batch", "wb") as handle:
        pickle.dump(entries, handle, protocol=2)
    return folder


def test_cifar10_test_batch_reads_as_nhwc_pixels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    folder = write_cifar10_test_batch(tmp_path / "cifar-10-batches-py", images, [3, 0, 9])
    for source in (folder, folder / "test_batch"):
        x, y = tiny.load_cifar10_test(source)
        assert x.dtype == np.float32 and x.shape == (3, 32, 32, 3)
        assert np.array_equal(x, images.astype(np.float32))  # 0..255, unscaled
        assert y.tolist() == [3, 0, 9]
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        tiny.load_cifar10_test(tmp_path)


def test_prepared_test_sets_are_checked_against_the_model(tmp_path):
    mfccs = tmp_path / "kws.npz"
    np.savez(mfccs, x_test=np.ones((5, 49, 10)), y_test=np.arange(5))
    x, y = tiny.load_test_set("kws", mfccs, [49, 10, 1])
    assert x.shape == (5, 49, 10, 1) and x.dtype == np.float32 and y.tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="the model wants"):
        tiny.load_test_set("vww", mfccs, [96, 96, 3])

    spectra = tmp_path / "toycar.npz"
    np.savez(spectra, x_test=np.zeros((3, 640)), y_test=[0, 1, 2])
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        tiny.load_test_set("ad", spectra, [640])
    np.savez(spectra, images=np.zeros((3, 640)))
    with pytest.raises(ValueError, match="no \\['x_test', 'y_test'\\]"):
        tiny.load_test_set("ad", spectra, [640])
    with pytest.raises(ValueError, match="unknown MLPerf Tiny task"):
        tiny.load_test_set("asr", spectra, [640])


def test_write_accuracy_set_is_what_the_accuracy_pass_reads(tmp_path):
    images = np.full((2, 32, 32, 3), 7, np.uint8)
    folder = write_cifar10_test_batch(tmp_path / "cifar", images, [1, 2])
    out = tmp_path / "results" / "datasets" / "tiny-ic.npz"
    assert tiny.write_accuracy_set("ic", folder, [32, 32, 3], out) == 2
    with np.load(out) as data:
        assert data["x_test"].shape == (2, 32, 32, 3) and data["y_test"].tolist() == [1, 2]


# --- the table -----------------------------------------------------------------------------------


def test_an_anomaly_detection_run_gets_auc_columns_and_no_top1(tmp_path):
    workload, labels = "tiny-ad", np.array([0, 0, 1, 1])
    inputs = np.random.default_rng(1).normal(size=(4, 640)).astype(np.float32)
    dataset, reference = tmp_path / "ad.npz", tmp_path / "reference.npz"
    np.savez(dataset, x_test=inputs, y_test=labels)
    separating = inputs + np.sqrt([0.1, 0.2, 0.8, 0.9])[:, None]  # AUC 1.0
    np.savez(reference, outputs=separating)
    one_pair_swapped = inputs + np.sqrt([0.1, 0.4, 0.35, 0.8])[:, None]  # AUC 0.75
    formats = {"tflite-fp32": separating, "tflite-int8": one_pair_swapped}
    runs = [
        write_run(tmp_path, "local", workload, fmt, {1: [1, 2, 3]}, outputs=outputs)
        for fmt, outputs in formats.items()
    ]
    facts = {"workload": workload, "group": "models", "family": "autoencoder", "metric": "auc"}
    meta_path = tmp_path / "results" / "workloads" / workload / "meta.json"
    write_json(meta_path, facts)
    table = build_table(
        runs=runs,
        conversions=[write_conversion(tmp_path, workload, fmt) for fmt in formats],
        metas=[meta_path],
        devices={"local": {"name": "local", "formats": list(formats)}},
        plan_rows=[("local", workload, fmt) for fmt in formats],
        references={workload: reference},
        datasets={workload: dataset},
        max_accuracy_drop=0.1,
    ).set_index("format")

    assert table["accuracy_auc"].tolist() == pytest.approx([1.0, 0.75])
    assert table["reference_auc"].tolist() == pytest.approx([1.0, 1.0])
    assert table["accuracy_drop"].tolist() == pytest.approx([0.0, 0.25])
    assert table["accuracy_fail"].tolist() == [False, True]
    assert table["accuracy_samples"].tolist() == [4, 4]
    top1 = ["accuracy_top1", "accuracy_top5", "reference_top1", "agreement", "vips"]
    assert table[top1].isna().all().all()
