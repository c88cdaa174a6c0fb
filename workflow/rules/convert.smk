# Conversion: one job per workload x format, run through the container engine. On a cluster
# (profiles/slurm) each is a SLURM job; its memory grows with the model (README, Scale-out).
from edgebench.cluster import conversion_mem_mb


rule convert:
    input:
        unpack(conversion_inputs),
    output:
        record=paths.conversion_record("{workload}", "{format}"),
    log:
        paths.log("convert", "{workload}", "{format}"),
    benchmark:
        paths.benchmark("convert", "{workload}", "{format}")
    params:
        settings=conversion_settings,
    resources:
        # measured peaks, declared by each converter (ResNet50 through tf2onnx: 7.9 GB)
        mem_mb=lambda wildcards, input: conversion_mem_mb(wildcards.format, input.model),
        runtime=30,
        cpus_per_task=1,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/convert.py"
