"""The toolchain images: what each holds, which tool versions its record keeps, which formats
need it. Standard library only: `versions` imports this inside every image."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageSpec:
    name: str  # containers/<name>/Dockerfile, tag edgebench/<name>:latest
    description: str
    distributions: tuple[str, ...]  # Python distributions whose versions the record keeps
    commands: dict[str, tuple[str, ...]] = field(default_factory=dict)  # tool -> version command
    debian_packages: tuple[str, ...] = ()  # Debian packages whose versions the record keeps
    vendor_repository: str | None = None  # what its build needs besides the base and PyPI
    gpu: bool = False  # its conversions need a GPU (docker run --gpus all, apptainer --nv)


IMAGES: dict[str, ImageSpec] = {
    spec.name: spec
    for spec in [
        ImageSpec(
            "tensorflow",
            "TensorFlow, the TFLite converter and tf2onnx",
            ("tensorflow", "keras", "tf2onnx", "onnx", "numpy", "protobuf", "ai-edge-litert"),
        ),
        ImageSpec(
            "openvino", "the OpenVINO model converter and NNCF", ("openvino", "nncf", "numpy")
        ),
        ImageSpec(
            "edgetpu",
            "Coral's edgetpu_compiler (x86-64)",
            ("numpy",),
            commands={"edgetpu_compiler": ("edgetpu_compiler", "--version")},
            debian_packages=("edgetpu-compiler",),
            vendor_repository="https://packages.cloud.google.com/apt/dists/coral-edgetpu-stable/Release",
        ),
        ImageSpec(
            "tensorrt",
            "NVIDIA TensorRT with trtexec, and ONNX Runtime's quantizer for int8",
            ("numpy", "onnx", "onnxruntime"),
            debian_packages=("libnvinfer-bin", "libnvinfer10"),
            vendor_repository=(
                "https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/Release"
            ),
            gpu=True,
        ),
    ]
}


def image_tag(name: str) -> str:
    return f"edgebench/{name}:latest"


def images_for(formats) -> list[str]:
    """Every image the formats need, the images of the formats they are made from included."""
    from edgebench.formats import FORMATS

    needed = set()
    for name in formats:
        fmt = FORMATS[name]
        while fmt is not None:
            needed.add(fmt.image)
            fmt = FORMATS.get(fmt.source) if fmt.source else None
    return sorted(needed)
