# Report: each device's raw logs condensed once into a digest, then the static HTML page, the
# DAG's last step. Adding a device digests that device only; the page itself is cheap to rebuild.
# Local rules: on a cluster they run on the submitting machine (seconds, see aggregate.smk).


rule report_device:
    input:
        runs=device_runs,
    output:
        paths.device_digest("{device}"),
    log:
        paths.log("report", "devices", "{device}"),
    benchmark:
        paths.benchmark("report_device", "{device}")
    localrule: True
    params:
        profile=table_device,
        measured=measured_device_runs,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/report_device.py"


rule report:
    input:
        unpack(report_inputs),
    output:
        REPORT,
    log:
        paths.log("report", "index"),
    benchmark:
        # written after the report: the page cannot include its own job
        paths.benchmark("report")
    localrule: True
    params:
        context=report_context,
        measured_conversions=measured_conversions,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/report.py"
