# Workloads: datasets, the model zoo, trained models and NeurIO blocks, each with meta.json.


rule prepare_digits:
    output:
        paths.dataset("digits"),
    log:
        paths.log("datasets", "digits"),
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
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/prepare_imagenet.py"


rule build_workload:
    input:
        unpack(workload_inputs),
    output:
        model=paths.workload_model("{workload}"),
        meta=paths.workload_meta("{workload}"),
    log:
        paths.log("workloads", "{workload}"),
    params:
        spec=workload_spec,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/build_workload.py"
