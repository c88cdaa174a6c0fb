# Runs: every converted workload on every selected device that has a runtime for its format.
# One run per device at a time (board_<device> resources); a local run takes every core so
# nothing else disturbs its timings.


rule reference_outputs:
    input:
        model=paths.workload_model("{workload}"),
        dataset=reference_dataset,
    output:
        paths.reference("{workload}"),
    log:
        paths.log("reference", "{workload}"),
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/reference_outputs.py"


rule run:
    input:
        unpack(run_inputs),
    output:
        paths.raw_log("{device}", "{workload}", "{format}"),
    log:
        paths.log("run", "{device}", "{workload}", "{format}"),
    params:
        measured_by=lambda wildcards: measurement_settings(device_profile(wildcards)),
        suite=suite_run_settings,
    threads: run_threads
    resources:
        **BOARD_RESOURCES,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/run_on_device.py"
