# Workloads: datasets, the model zoo, trained models and NeurIO blocks, each with meta.json.
# On a cluster the digits set and the MLPerf Tiny test sets are made on the submitting machine
# (seconds: less than a SLURM job's own start); ImageNet-style sets (the folder on a shared
# path) and the workloads are built in SLURM jobs.
from edgebench.cluster import job_mem_mb


rule prepare_digits:
    output:
        paths.dataset("digits"),
    log:
        paths.log("datasets", "digits"),
    localrule: True
    params:
        seed=0,
        test_fraction=0.3,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/prepare_digits.py"


rule prepare_imagenet:
    input:
        labels=imagenet_labels,
    output:
        paths.imagenet_set("{workload}"),
    log:
        paths.log("datasets", "imagenet-{workload}"),
    params:
        settings=imagenet_settings,
    resources:
        # measured peaks: 0.8 GB (224 x 224) to 1.3 GB (InceptionV3's 299 x 299), 500 images
        mem_mb=job_mem_mb(1300),
        runtime=15,
        cpus_per_task=1,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/prepare_imagenet.py"


rule prepare_tiny:
    input:
        tiny_source,
    output:
        paths.tiny_set("{workload}"),
    log:
        paths.log("datasets", "tiny-{workload}"),
    localrule: True
    params:
        task=lambda wildcards: PLAN.spec(wildcards.workload).test_set,
        input_shape=lambda wildcards: PLAN.spec(wildcards.workload).input_shape,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/prepare_tiny.py"


rule build_workload:
    input:
        unpack(workload_inputs),
    output:
        model=paths.workload_model("{workload}"),
        meta=paths.workload_meta("{workload}"),
    log:
        paths.log("workloads", "{workload}"),
    benchmark:
        paths.benchmark("build_workload", "{workload}")
    params:
        spec=workload_spec,
    resources:
        # measured peaks: 0.9 GB (blocks, training the digits CNN) to 2.2 GB (ResNet50)
        mem_mb=job_mem_mb(2200),
        runtime=15,
        cpus_per_task=1,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/build_workload.py"
