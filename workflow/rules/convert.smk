# Conversion: one job per workload x format, run through the container engine.


rule convert:
    input:
        unpack(conversion_inputs),
    output:
        record="results/converted/{workload}/{format}.json",
    log:
        "results/logs/convert/{workload}/{format}.log",
    params:
        settings=conversion_settings,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/convert.py"
