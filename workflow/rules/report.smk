# Report: each device's raw logs condensed once into a digest, then the static HTML page, the
# DAG's last step. Adding a device digests that device only; the page itself is cheap to rebuild.


rule report_device:
    input:
        runs=device_runs,
    output:
        "results/report/devices/{device}.json",
    log:
        "results/logs/report/devices/{device}.log",
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
        "results/logs/report/index.log",
    params:
        context=report_context,
        measured_conversions=measured_conversions,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/report.py"
