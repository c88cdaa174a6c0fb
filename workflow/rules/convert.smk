# Conversion: one job per workload x format, run through the container engine.


rule convert:
    input:
        unpack(conversion_inputs),
    output:
        record=paths.conversion_record("{workload}", "{format}"),
    log:
        paths.log("convert", "{workload}", "{format}"),
    params:
        settings=conversion_settings,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/convert.py"
