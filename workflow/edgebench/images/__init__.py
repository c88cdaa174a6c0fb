"""Per-vendor toolchain images: which image each format needs, building them as DAG steps,
reading tool versions from inside them, and a local base image for networks with no registry."""
