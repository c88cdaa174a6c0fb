"""Custom Keras layers that workloads need and that must survive a .keras save/load."""
