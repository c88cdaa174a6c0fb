# Aggregation: one tidy table, one row per device x workload x format x batch, over this plan's
# rows and every run measured in this results folder before (edgebench.outcome).


rule plan_manifest:
    output:
        outcome.plan_manifest(PLAN),
    log:
        paths.log("plans"),
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
        csv=paths.TABLE_CSV,
        parquet=paths.TABLE_PARQUET,
    log:
        paths.log("tables"),
    params:
        settings=TABLE_SETTINGS,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/tables.py"
