# Aggregation: one tidy table, one row per device x workload x format x batch.


rule tables:
    input:
        unpack(table_inputs),
    output:
        csv="results/tables/results.csv",
        parquet="results/tables/results.parquet",
    log:
        "results/logs/tables.log",
    params:
        devices=lambda wildcards: PLAN.devices,
        plan_rows=lambda wildcards: PLAN.run_rows(),
        workloads_with_accuracy=lambda wildcards: accuracy_workloads(),
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/tables.py"
