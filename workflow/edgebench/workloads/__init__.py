"""Workloads: whole models (the zoo, user models, the trained digits CNN) and NeurIO blocks."""


def input_rank(rank: int, axes: str = ""):
    """Declare the rank of the `input_shape` a model builder takes (batch axis excluded), e.g.
    ``@input_rank(3, "height, width, channels")``. The workflow reads it from the builder's
    source when it loads (edgebench.preflight, without importing the module) and refuses a
    model whose input_shape has another rank."""

    def declare(builder):
        builder.input_rank, builder.input_axes = rank, axes
        return builder

    return declare
