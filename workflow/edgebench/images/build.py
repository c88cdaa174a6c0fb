"""Build one toolchain image (a DAG step) and record it in results/images/{image}.json.

The record holds the image id the conversions then run (never a mutable tag), the tool versions
read from inside the image, and how it was built. A build that fails is a record too, with
status `failed` and the builder's own words: the conversions that need the image become
`unsupported` rows with that reason, and the rest of the workflow goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgebench.convert.engine import Engine
from edgebench.fileio import write_json
from edgebench.images.catalog import IMAGES, ImageSpec, image_tag

EXTRA_CA_NAME = "edgebench-extra-ca.crt"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
REASON_LIMIT = 600


def context_digest(folder: Path, ca_bundle: Path | None = None) -> str:
    """SHA-256 over the build context: every file's relative path and content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    if ca_bundle is not None:
        digest.update(b"ca_bundle\0" + Path(ca_bundle).read_bytes())
    return digest.hexdigest()


def pip_index_urls() -> dict[str, str]:
    """The pip index this machine uses, as build args, when the build can reach it too.

    PIP_INDEX_URL / PIP_EXTRA_INDEX_URL, else pip's own configuration; file:// indexes (local
    folders) cannot be reached from inside a build, so only http(s) URLs pass."""
    found = {}
    for variable, key in (
        ("PIP_INDEX_URL", "index-url"),
        ("PIP_EXTRA_INDEX_URL", "extra-index-url"),
    ):
        value = os.environ.get(variable) or pip_config_value(key)
        urls = [u for u in (value or "").split() if u.startswith(("http://", "https://"))]
        if urls:
            found[variable] = " ".join(urls)
    return found


def pip_config_value(key: str) -> str | None:
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        if name.split(".", 1)[-1] == key:
            return value.strip().strip("'\"")
    return None


def redact(url: str) -> str:
    return re.sub(r"//[^/@\s]+@", "//***@", url)


def build_args(base_image: str | None) -> dict[str, str]:
    args = {"BASE_IMAGE": base_image} if base_image else {}
    args.update(pip_index_urls())
    args.update({v: os.environ[v] for v in PROXY_VARIABLES if os.environ.get(v)})
    return args


def docker_image_id(tag: str) -> str:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def versions_inside(image_id: str, name: str) -> dict:
    """Tool versions, read by running `edgebench.images.versions` inside the image, the way
    the docker engine runs conversions."""
    argv = ["-m", "edgebench.images.versions", name]
    command = Engine("docker").command(argv, {"status": "ok", "id": image_id})
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"reading tool versions failed: {result.stderr.strip()[-REASON_LIMIT:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def failure_reason(output: str, code: int, spec) -> str:
    """The builder's own error lines, with a hint when a registry or repository was out of reach."""
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    lines = [  # without the CLI's note on its legacy builder
        line.strip() for line in output.splitlines()
        if line.strip() and not re.search(r"DEPRECATED|buildx", line)
    ]  # fmt: skip
    flagged = [
        line for line in lines
        if re.search(r"error|denied|not found|unable|failed|could not|no such", line, re.IGNORECASE)
    ] or lines[-3:]  # fmt: skip
    reason = f"docker build exited with code {code}: " + " | ".join(dict.fromkeys(flagged[-3:]))
    reason = reason[: REASON_LIMIT - 200]  # room for the hint
    if re.search(r"pull access denied|manifest unknown|registry-1\.docker\.io", output):
        reason += (
            " (no registry reachable? make a local base image with `python -m edgebench.images "
            "base` and run with --config base_image=edgebench/base:bookworm)"
        )
    elif spec.vendor_repository and re.search(
        r"Name or service not known|Temporary failure in name resolution|URLError|"
        r"Could not resolve|Failed to fetch|timed out",
        output,
    ):
        reason += f" (this image needs {spec.vendor_repository}, which the build could not reach)"
    return reason[:REASON_LIMIT]


def build_image(
    name: str,
    containers: Path,
    record_path: Path,
    log,
    engine: str = "docker",
    base_image: str | None = None,
    ca_bundle: Path | None = None,
) -> dict:
    """Build containers/<name>/ as edgebench/<name>:latest and write its record."""
    folder = containers / name
    spec = IMAGES.get(name) or ImageSpec(name, "an image outside the catalogue", ())
    tag = image_tag(name)
    args = build_args(base_image)
    record = {
        "image": name,
        "tag": tag,
        "engine": engine,
        "base_image": base_image or "the Dockerfile's default",
        "build_args": {k: redact(v) for k, v in args.items()},
        "context_sha256": context_digest(folder, ca_bundle),
        "extra_ca": ca_bundle is not None,
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"edgebench-{name}-") as tmp:
        context = Path(tmp) / name
        shutil.copytree(folder, context)
        (context / "ca").mkdir(exist_ok=True)
        if ca_bundle is not None:
            shutil.copyfile(ca_bundle, context / "ca" / EXTRA_CA_NAME)
        command = ["docker", "build", "--network", "host", "--tag", tag]
        for key, value in args.items():
            command += ["--build-arg", f"{key}={value}"]
        command.append(str(context))
        print("$ " + redact(" ".join(command)), file=log, flush=True)
        process = subprocess.run(command, capture_output=True, text=True)
        log.write(process.stdout + process.stderr)
        log.flush()
    if process.returncode != 0:
        record.update(
            status="failed",
            reason=failure_reason(process.stdout + process.stderr, process.returncode, spec),
        )
    else:
        record.update(status="ok", reason="", id=docker_image_id(tag))
        record["versions"] = versions_inside(record["id"], name)
        if engine == "apptainer":
            record.update(build_sif(tag, record_path.with_suffix(".sif"), log))
    record["gpu"] = spec.gpu
    record["duration_s"] = round(time.monotonic() - started, 1)
    write_json(record_path, record)
    return record


def build_sif(tag: str, sif: Path, log) -> dict:
    """Convert the built docker image into an Apptainer image file beside the record."""
    tmp = sif.with_name(f".{sif.name}.part")
    command = ["apptainer", "build", "--force", str(tmp), f"docker-daemon:{tag}"]
    print("$ " + " ".join(command), file=log, flush=True)
    process = subprocess.run(command, capture_output=True, text=True)
    log.write(process.stdout + process.stderr)
    if process.returncode != 0:
        tmp.unlink(missing_ok=True)
        lines = (process.stdout + process.stderr).strip().splitlines()[-3:]
        reason = f"apptainer build exited with code {process.returncode}: " + " | ".join(lines)
        return {"status": "failed", "reason": reason[:REASON_LIMIT]}
    os.replace(tmp, sif)
    return {"sif": str(sif)}
