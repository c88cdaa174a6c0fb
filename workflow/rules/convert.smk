# Conversion: one job per workload x format, run through the container engine. On a cluster
# (profiles/slurm) each is a SLURM job; its memory grows with the model (README, Scale-out).
from edgebench.cluster import job_mem_mb


rule convert:
    input:
        unpack(conversion_inputs),
    output:
        record=paths.conversion_record("{workload}", "{format}"),
    log:
        paths.log("convert", "{workload}", "{format}"),
    params:
        settings=conversion_settings,
    resources:
        # measured peaks: 0.95 GB + 72 MB per MB of Keras model through tf2onnx (ResNet50:
        # 7.9 GB), + 28 MB per MB for TFLite and OpenVINO (ResNet50 int8: 3.6 GB)
        mem_mb=lambda wildcards, input: job_mem_mb(
            950, 72 if wildcards.format == "onnx-fp32" else 28, input.model
        ),
        runtime=30,
        cpus_per_task=1,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/convert.py"
