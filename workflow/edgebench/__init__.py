"""edgebench: one reproducible benchmark workflow for edge deep-learning accelerators."""

__version__ = "0.1.0"
