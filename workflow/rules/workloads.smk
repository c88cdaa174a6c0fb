# Workloads: datasets, the model zoo, trained models and NeurIO blocks, each with meta.json.


rule prepare_digits:
    output:
        "results/datasets/digits.npz",
    log:
        "results/logs/datasets/digits.log",
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
        "results/datasets/imagenet/{workload}.npz",
    log:
        "results/logs/datasets/imagenet-{workload}.log",
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
        model="results/workloads/{workload}/model.keras",
        meta="results/workloads/{workload}/meta.json",
    log:
        "results/logs/workloads/{workload}.log",
    params:
        spec=workload_spec,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/build_workload.py"
