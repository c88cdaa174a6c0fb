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
    params:
        settings=image_settings,
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/build_image.py"
