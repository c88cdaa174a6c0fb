# Runs: every converted workload on every selected device that has a runtime for its format.
# One run per device at a time (board_<device> resources); a local run takes every core so
# nothing else disturbs its timings.


rule reference_outputs:
    input:
        model="results/workloads/{workload}/model.keras",
        dataset=reference_dataset,
    output:
        "results/reference/{workload}.npz",
    log:
        "results/logs/reference/{workload}.log",
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/reference_outputs.py"


rule run:
    input:
        unpack(run_inputs),
    output:
        "results/raw/{device}/{workload}/{format}/run.jsonl",
    log:
        "results/logs/run/{device}/{workload}/{format}.log",
    params:
        profile=device_profile,
        suite=suite_run_settings,
    threads: run_threads
    resources:
        **BOARD_RESOURCES,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/run_on_device.py"
