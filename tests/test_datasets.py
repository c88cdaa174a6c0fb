"""ImageNet-style folders with per-model preprocessing, and the bundled digits split."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import USER_MODEL
from edgebench.workloads import digits
from edgebench.workloads.datasets import Preprocessing, load_image_folder
from PIL import Image


def make_folder(root, sizes):
    """One image per size, colour known per pixel, labelled by index."""
    lines = []
    for index, (width, height) in enumerate(sizes):
        pixels = np.zeros((height, width, 3), np.uint8)
        pixels[..., 0] = 255  # pure red
        pixels[height // 2, width // 2] = (0, 0, 255)  # a blue centre pixel
        (root / f"class{index}").mkdir(parents=True)
        Image.fromarray(pixels).save(root / f"class{index}" / "img.png")
        lines.append(f"class{index}/img.png {index}")
    (root / "labels.txt").write_text("\n".join(lines) + "\n")


def test_folder_is_resized_cropped_scaled_and_normalised(tmp_path):
    make_folder(tmp_path, [(64, 48), (40, 80), (50, 50)])
    prep = Preprocessing(
        resize=32, crop=24, scale=(0.0, 1.0), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
    )
    images, labels = load_image_folder(tmp_path, prep)
    assert images.shape == (3, 24, 24, 3) and images.dtype == np.float32
    assert labels.tolist() == [0, 1, 2]
    # red pixel: R = (1 - 0.5) / 0.5 = 1, G = B = (0 - 0.5) / 0.5 = -1
    assert np.allclose(images[0, 0, 0], [1.0, -1.0, -1.0])


def test_bgr_channel_order_and_caffe_style_range(tmp_path):
    make_folder(tmp_path, [(30, 30)])
    prep = Preprocessing.from_config(
        {"crop": 30, "scale": [0.0, 255.0], "mean": [10.0, 20.0, 30.0], "channels": "bgr"}
    )
    images, _ = load_image_folder(tmp_path, prep)
    # RGB (255, 0, 0) minus mean (10, 20, 30) = (245, -20, -30), then reversed to BGR
    assert np.allclose(images[0, 0, 0], [-30.0, -20.0, 245.0])


def test_missing_image_names_the_labels_line(tmp_path):
    make_folder(tmp_path, [(30, 30)])
    (tmp_path / "labels.txt").write_text("class9/gone.png 3\n")
    with pytest.raises(FileNotFoundError, match="class9/gone.png"):
        load_image_folder(tmp_path, Preprocessing())


def test_malformed_labels_line_is_reported_with_its_number(tmp_path):
    make_folder(tmp_path, [(30, 30)])
    (tmp_path / "labels.txt").write_text("class0/img.png 0\nclass0/img.png cat\n")
    with pytest.raises(ValueError, match=r"labels.txt:2"):
        load_image_folder(tmp_path, Preprocessing())


def test_digits_split_is_stratified_scaled_and_held_out(tmp_path):
    counts = digits.prepare(tmp_path / "digits.npz")
    data = digits.load(tmp_path / "digits.npz")
    assert counts["y_train"] + counts["y_test"] == 1797
    assert data["x_test"].shape[1:] == (8, 8, 1)
    assert 0.0 <= data["x_train"].min() and data["x_train"].max() <= 1.0
    assert set(np.unique(data["y_test"])) == set(range(10))
    train_rows = {row.tobytes() for row in data["x_train"]}
    overlap = sum(row.tobytes() in train_rows for row in data["x_test"])
    assert overlap < 10  # the digits set has a few exact duplicates, nothing more


@pytest.mark.integration
def test_imagenet_style_folder_feeds_the_accuracy_pass(project, tmp_path):
    folder = tmp_path / "val"
    make_folder(folder, [(20, 24), (30, 18), (18, 18), (40, 32)])
    project.add_models(
        USER_MODEL,
        {
            "tiny-rgb": {
                "function": "tiny",
                "input_shape": [16, 16, 3],
                "classes": 4,
                "preprocessing": {"resize": 18, "crop": 16, "scale": [0.0, 1.0], "channels": "rgb"},
            }
        },
    )
    project.write_yaml(
        "config/suites/tiny.yaml",
        {
            "workloads": ["tiny-rgb"],
            "formats": ["tflite-fp32"],
            "timing": {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 5, "min_s": 0.0},
        },
    )
    config = {"devices": ["local"], "suite": "tiny", "containers": "none"}
    project.write_yaml("config/config.yaml", {**config, "imagenet_val": {"path": str(folder)}})
    project.snakemake()
    data = np.load(project.root / "results" / "datasets" / "imagenet" / "tiny-rgb.npz")
    assert data["x_test"].shape == (4, 16, 16, 3) and data["y_test"].tolist() == [0, 1, 2, 3]
    import pandas as pd

    row = pd.read_csv(project.root / "results" / "tables" / "results.csv").iloc[0]
    assert row.accuracy_samples == 4 and row.agreement == 1.0
    # random weights on 4 samples: no drop can show a fault there, and the row says so
    assert pd.isna(row.accuracy_drop) and row.accuracy_note.startswith("uninformative")


def test_atomic_writes_leave_files_readable_by_others(tmp_path):
    from edgebench.fileio import write_json

    write_json(tmp_path / "record.json", {"status": "ok"})
    assert (tmp_path / "record.json").stat().st_mode & 0o044  # group/other can read (umask 022)
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]  # no temporary left behind
