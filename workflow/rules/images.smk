# Images: one toolchain image per vendor (containers/<image>/Dockerfile), built only when
# containers != none; its record (image id, tool versions) is an input of the conversions
# that run in it, so a changed Dockerfile reconverts only those.


rule build_image:
    input:
        unpack(image_inputs),
    output:
        "results/images/{image}.json",
    log:
        "results/logs/images/{image}.log",
    conda:
        "../../envs/edgebench.yaml"
    params:
        settings=image_settings,
    script:
        "../scripts/build_image.py"
