"""Float32 Keras outputs on the accuracy inputs: what converted models are scored against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgebench.fileio import atomic_path


def write_reference(model_path: Path, dataset: Path, out_path: Path) -> dict:
    import keras

    import edgebench.workloads.layers  # noqa: F401  (custom layers must be registered)

    model = keras.models.load_model(model_path, compile=False)
    with np.load(dataset) as data:
        inputs, labels = data["x_test"], data["y_test"]
    outputs = model.predict(inputs, batch_size=64, verbose=0).astype(np.float32)
    with atomic_path(out_path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, outputs=outputs)
    return {"samples": len(inputs), "top1": float((outputs.argmax(1) == labels).mean())}


def reference_job(model_path, dataset, out_path) -> int:
    """The reference_outputs job (edgebench.warm runs it)."""
    facts = write_reference(Path(model_path), Path(dataset), Path(out_path))
    print(f"reference: {facts}")
    return 0
