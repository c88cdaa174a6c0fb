# Conversion: one job per workload x format, run through the container engine.


rule convert:
    input:
        unpack(conversion_inputs),
    output:
        record="results/converted/{workload}/{format}.json",
    log:
        "results/logs/convert/{workload}/{format}.log",
    conda:
        "../../envs/edgebench.yaml"
    params:
        settings=conversion_settings,
    script:
        "../scripts/convert.py"
