# Aggregation: one tidy table, one row per device x workload x format x batch, over this plan's
# rows and every run measured in this results folder before (edgebench.outcome).
# Local rules: on a cluster they run on the submitting machine, in seconds (less than a SLURM
# job's own start), next to the runs they read.


rule plan_manifest:
    output:
        outcome.plan_manifest(PLAN),
    log:
        paths.log("plans"),
    localrule: True
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
    localrule: True
    params:
        settings=TABLE_SETTINGS,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/tables.py"


rule check_rows:
    input:
        table=paths.TABLE_PARQUET,
        report=REPORT,
        plan=outcome.plan_manifest(PLAN),
    output:
        paths.rows_checked(),
    log:
        paths.log("check"),
    localrule: True
    params:
        rows=lambda wildcards: PLAN.run_rows(),
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/check_rows.py"
