# Aggregation: one tidy table, one row per device x workload x format x batch, over this plan's
# rows and every run measured in this results folder before (edgebench.outcome).


rule plan_manifest:
    output:
        outcome.plan_manifest(PLAN),
    log:
        "results/logs/plans.log",
    params:
        rows=lambda wildcards: PLAN.run_rows(),
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/plan_manifest.py"


rule tables:
    input:
        unpack(table_inputs),
    output:
        csv="results/tables/results.csv",
        parquet="results/tables/results.parquet",
    log:
        "results/logs/tables.log",
    params:
        settings=TABLE_SETTINGS,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/tables.py"
