"""Conversion of Keras workloads into each format, through a container-engine seam."""
