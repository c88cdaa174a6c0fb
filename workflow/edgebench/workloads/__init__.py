"""Workloads: whole models (the zoo, user models, the trained digits CNN) and NeurIO blocks."""
