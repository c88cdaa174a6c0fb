# Images: one toolchain image per vendor (containers/<image>/Dockerfile, built FROM the common
# base in containers/common), built only when containers != none; its record (image id, tool
# versions) is an input of the conversions that run in it, so a changed Dockerfile reconverts
# only those. A build that fails fails this job (an environment error, with the fix). A local
# rule: on a cluster the images are built where the Docker daemon is, the submitting machine.
from edgebench.images.build import build_inputs, build_settings


rule build_image:
    input:
        unpack(lambda wildcards: build_inputs(wildcards.image, config)),
    output:
        paths.image_record("{image}"),
    log:
        paths.log("images", "{image}"),
    localrule: True
    params:
        settings=lambda wildcards: build_settings(ENGINE.name, config),
    conda:
        "../../envs/edgebench.yaml"
    script:
        "../scripts/build_image.py"
