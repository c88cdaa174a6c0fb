"""Accuracy datasets: the bundled digits split, and ImageNet-style validation folders.

An ImageNet-style folder (AIoTBench uses 100 classes x 5 images) holds image files plus a labels
file with one `relative/path.jpg <class index>` line per image. Each model preprocesses it its
own way (config/models.yaml `preprocessing`): resize the shorter side, centre crop, scale to a
range, subtract mean and divide by std per channel, and order channels RGB or BGR.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgebench.fileio import atomic_path


@dataclass(frozen=True)
class Preprocessing:
    resize: int | None = None  # shorter side, before cropping
    crop: int | None = None  # centre crop, square
    scale: tuple[float, float] = (0.0, 1.0)  # pixel 0..255 maps linearly onto this range
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    channels: str = "rgb"

    @classmethod
    def from_config(cls, config: dict) -> Preprocessing:
        known = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
        return cls(**known)


def read_labels(labels_file: Path) -> list[tuple[str, int]]:
    entries = []
    for number, line in enumerate(labels_file.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise ValueError(
                f"{labels_file}:{number}: expected '<relative image path> <class index>', "
                f"found {line!r}"
            )
        entries.append((parts[0], int(parts[1])))
    if not entries:
        raise ValueError(f"{labels_file} lists no images")
    return entries


def preprocess(image, prep: Preprocessing) -> np.ndarray:
    """A PIL image -> float32 HWC array ready for the model."""
    from PIL import Image

    image = image.convert("RGB")
    if prep.resize:
        width, height = image.size
        factor = prep.resize / min(width, height)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        image = image.resize(size, Image.Resampling.BILINEAR)
    if prep.crop:
        width, height = image.size
        if prep.crop > min(width, height):
            raise ValueError(f"crop {prep.crop} is larger than the resized image {image.size}")
        left, top = (width - prep.crop) // 2, (height - prep.crop) // 2
        image = image.crop((left, top, left + prep.crop, top + prep.crop))
    pixels = np.asarray(image, dtype=np.float32)
    low, high = prep.scale
    pixels = low + pixels * ((high - low) / 255.0)
    if prep.mean is not None:
        pixels = pixels - np.asarray(prep.mean, np.float32)
    if prep.std is not None:
        pixels = pixels / np.asarray(prep.std, np.float32)
    if prep.channels == "bgr":
        pixels = pixels[..., ::-1]
    return np.ascontiguousarray(pixels, dtype=np.float32)


def load_image_folder(
    root: Path, prep: Preprocessing, labels: str = "labels.txt", limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images listed in `root/labels` as one (N, H, W, C) float32 array and (N,) int64 labels."""
    from PIL import Image

    root = Path(root)
    labels_file = root / labels
    if not labels_file.is_file():
        raise FileNotFoundError(
            f"no labels file {labels_file}: write one '<image path> <class index>' line per image"
        )
    entries = read_labels(labels_file)[:limit]
    images = []
    for relative, _ in entries:
        path = root / relative
        if not path.is_file():
            raise FileNotFoundError(f"{labels_file} lists {relative}, but {path} does not exist")
        with Image.open(path) as image:
            images.append(preprocess(image, prep))
    shapes = {a.shape for a in images}
    if len(shapes) > 1:
        raise ValueError(
            f"images differ in shape after preprocessing {shapes}: set resize and crop"
        )
    return np.stack(images), np.array([label for _, label in entries], dtype=np.int64)


def write_accuracy_set(settings: dict, out_path) -> int:
    """The folder preprocessed for one model, as the .npz the accuracy pass reads
    (`x_test`, `y_test`); its shape must be the model's input shape."""
    prep = Preprocessing.from_config(settings["preprocessing"])
    images, labels = load_image_folder(Path(settings["folder"]), prep, settings["labels"])
    expected = tuple(settings["input_shape"])
    if images.shape[1:] != expected:
        raise ValueError(
            f"preprocessed images are {images.shape[1:]}, the model wants {expected}: "
            "fix `resize`/`crop` in the model's preprocessing (config/models.yaml)"
        )
    with atomic_path(out_path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, x_test=images, y_test=labels)
    return len(labels)
