"""Custom Keras layers that workloads need and that must survive a .keras save/load.

Import this module before ``keras.models.load_model`` so the registrations below are known.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="edgebench")
class Pad(keras.layers.Layer):
    """Pads the spatial axes of a channels-last 1D or 2D feature map; batch and channels stay.

    Keras only ships zero padding (``ZeroPadding1D/2D``). This layer adds a constant value other
    than zero (TFLite ``PADV2``) and the mirror modes ``reflect`` and ``symmetric``
    (TFLite ``MIRROR_PAD``).

    ``padding`` is an int (same amount on both sides of every spatial axis), one int per spatial
    axis, or one ``(before, after)`` pair per spatial axis.
    """

    MODES = ("constant", "reflect", "symmetric")

    def __init__(self, padding=1, mode="constant", constant_value=0.0, **kwargs):
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"Unknown padding mode {mode!r}; valid modes: {', '.join(self.MODES)}")
        self.padding = _normalize_padding(padding)
        self.mode = mode
        self.constant_value = float(constant_value)

    def spatial_padding(self, rank: int) -> tuple[tuple[int, int], ...]:
        """``(before, after)`` per spatial axis of a batched tensor of this rank."""
        spatial_axes = rank - 2
        if isinstance(self.padding, int):
            return ((self.padding, self.padding),) * spatial_axes
        if len(self.padding) != spatial_axes:
            raise ValueError(
                f"Pad has padding for {len(self.padding)} spatial axes, "
                f"but its input has {spatial_axes}"
            )
        return self.padding

    def call(self, inputs):
        pad_width = [(0, 0), *self.spatial_padding(len(inputs.shape)), (0, 0)]
        if self.mode == "constant":
            return ops.pad(inputs, pad_width, mode="constant", constant_values=self.constant_value)
        return ops.pad(inputs, pad_width, mode=self.mode)

    def compute_output_shape(self, input_shape):
        pairs = self.spatial_padding(len(input_shape))
        spatial = [
            None if size is None else size + before + after
            for size, (before, after) in zip(input_shape[1:-1], pairs, strict=True)
        ]
        return (input_shape[0], *spatial, input_shape[-1])

    def get_config(self):
        return {
            **super().get_config(),
            "padding": self.padding,
            "mode": self.mode,
            "constant_value": self.constant_value,
        }


def _normalize_padding(padding) -> int | tuple[tuple[int, int], ...]:
    if isinstance(padding, int):
        return padding
    return tuple(
        (int(p), int(p)) if isinstance(p, int) else (int(p[0]), int(p[1])) for p in padding
    )
