# Runs: every converted workload on every selected device that has a runtime for its format.
# One run per device at a time (board_<device> resources); a local run takes every core so
# nothing else disturbs its timings. Runs are local rules: on a cluster they stay on the
# machine that reaches the boards (and holds the board resources and locks); the reference
# outputs are a SLURM job like a conversion.
from edgebench.cluster import job_mem_mb


rule reference_outputs:
    input:
        model=paths.workload_model("{workload}"),
        dataset=reference_dataset,
    output:
        paths.reference("{workload}"),
    log:
        paths.log("reference", "{workload}"),
    benchmark:
        paths.benchmark("reference_outputs", "{workload}")
    resources:
        # measured peaks: 0.9 GB + 15 MB per MB of accuracy inputs (500 ImageNet-style images
        # for InceptionV3, 200 MB: 3.3 GB)
        mem_mb=lambda wildcards, input: job_mem_mb(900, 15, input.dataset),
        runtime=15,
        cpus_per_task=1,
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
    benchmark:
        paths.benchmark("run", "{device}", "{workload}", "{format}")
    localrule: True
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


# Interleaved suites (`schedule: interleaved`, README "Interleaved schedule"): one job per
# device and workload times all the device's formats of it in rounds and writes every
# format's raw log (same paths, so tables and report read them as they are). One rule per
# device, since a rule's outputs are fixed: the formats that device runs. Preferred over
# `run` for those logs (ruleorder); under the sequential schedule there are none.
for _device, _formats in PLAN.interleaved_groups().items():

    rule:
        name:
            interleaved_rule(_device)
        input:
            unpack(interleaved_inputs),
        output:
            [paths.raw_log("{device}", "{workload}", fmt) for fmt in _formats],
        log:
            paths.log("run", "{device}", "{workload}", "interleaved"),
        benchmark:
            paths.benchmark("run_interleaved", "{device}", "{workload}")
        wildcard_constraints:
            device=re.escape(_device),
        localrule: True
        params:
            measured_by=measured_by,
            suite=interleaved_run_settings,
        threads: run_threads
        resources:
            **BOARD_RESOURCES,
        conda:
            "../../envs/edgebench.yaml"
        script:
            "../scripts/run_interleaved.py"

    workflow.ruleorder(interleaved_rule(_device), "run")
