"""Build one toolchain image (a DAG step) and record it in results/images/{image}.json.

Every toolchain image starts FROM the common base (containers/common: the base image plus the
extra CA certificates), built first and one build at a time across processes (a lock file), so
images built in parallel share its layers and an image's id changes only when its own toolchain
does. The record holds the image id the conversions then run (never a mutable tag), the base
image's and the common base's ids, the tool versions and every package installed in the image
(read from inside it), and how it was built.

A build that fails raises ImageBuildError with the builder's own error lines and the fix: the
DAG job fails, so the conversions that need the image do not run. It leaves no container and
no untagged image behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

from edgebench.fileio import write_image_record
from edgebench.images.catalog import IMAGES, ImageSpec, image_tag
from edgebench.images.engines import Engine

COMMON = "common"  # containers/common: the base every toolchain image is built FROM
EXTRA_CA_NAME = "edgebench-extra-ca.crt"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
LOCK = Path(tempfile.gettempdir()) / "edgebench-common-image.lock"
HOST_CA_FOLDER = Path("/usr/local/share/ca-certificates")
CERTIFICATE_ERROR = re.compile(
    r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|SSL certificate problem|"
    r"Certificate verification failed|unable to get local issuer certificate|"
    r"self[- ]signed certificate",
    re.IGNORECASE,
)
ERROR_LINE = re.compile(
    r"error|denied|not found|unable|failed|could not|no such|non-zero code", re.IGNORECASE
)
LINE_LIMIT = 300  # characters of one quoted builder line (cut at a word, marked)


class ImageBuildError(RuntimeError):
    """An image could not be built: an environment error that fails the DAG job. The message
    holds the builder's own error lines and what to do."""

    def __init__(self, image: str, message: str):
        super().__init__(message)
        self.image = image


def ca_bundle_path(value) -> Path | None:
    """The config key `ca_bundle` as a path: `~` expanded, relative to the project folder."""
    return Path(value).expanduser() if value else None


def context_files(containers: Path, name: str) -> list[Path]:
    """Every file an image's build reads: the common base's folder and its own."""
    folders = [containers / COMMON, containers / name]
    return [p for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()]


def build_inputs(name: str, config: dict, containers: Path = Path("containers")) -> dict:
    """The build_image job's inputs: the files of both build contexts and the CA bundle."""
    inputs = {"context": [str(p) for p in context_files(containers, name)]}
    ca_bundle = ca_bundle_path(config.get("ca_bundle"))
    if ca_bundle is not None:
        inputs["ca_bundle"] = str(ca_bundle)
    return inputs


def build_settings(engine: str, config: dict) -> dict:
    ca_bundle = ca_bundle_path(config.get("ca_bundle"))
    return {
        "containers": "containers",
        "engine": engine,
        "base_image": config.get("base_image"),
        "ca_bundle": str(ca_bundle) if ca_bundle else None,
    }


def context_digest(folder: Path, ca_bundle: Path | None = None) -> str:
    """SHA-256 over a build context: every file's relative path and content."""
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
    """What this machine passes to the builds: the base image (the common base's), its pip
    index and its proxy settings."""
    args = {"BASE_IMAGE": base_image} if base_image else {}
    args.update(pip_index_urls())
    args.update({v: os.environ[v] for v in PROXY_VARIABLES if os.environ.get(v)})
    return args


def docker_image_id(reference: str) -> str:
    result = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", reference],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def default_base_image(containers: Path) -> str:
    """The BASE_IMAGE the common base's Dockerfile names when none is given."""
    text = (containers / COMMON / "Dockerfile").read_text()
    match = re.search(r"^ARG BASE_IMAGE=(\S+)", text, re.MULTILINE)
    return match[1] if match else "the common Dockerfile's default"


def contents_inside(image_id: str, name: str) -> dict:
    """Tool versions and every installed package, read by running `edgebench.images.versions`
    inside the image, the way the docker engine runs conversions."""
    argv = ["-m", "edgebench.images.versions", name]
    command = Engine("docker").command(argv, {"status": "ok", "id": image_id})
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise ImageBuildError(
            name,
            f"the {name} image was built ({image_id}) but reading its tool versions inside it "
            f"failed: {result.stderr.strip()[-1000:]}",
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def shorten(line: str, limit: int = LINE_LIMIT) -> str:
    """The line whole, or cut at a word and marked; a long line with a certificate error is
    cut around that error (pip's start with the URL and the retry counts)."""
    if len(line) <= limit:
        return line
    match = CERTIFICATE_ERROR.search(line)
    if match and match.start() > limit // 3:
        head = line[: max(line.rfind(" ", 0, limit // 4), 0)]
        start = line.rfind(" ", 0, match.start() - 40) + 1
        line = f"{head} [...] {line[start:]}"
    return textwrap.shorten(line, limit, placeholder=" [...]")


def error_lines(output: str) -> list[str]:
    """The builder's own error lines (the last few, each whole or cut at a word)."""
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    lines = [  # without the CLI's note on its legacy builder
        line.strip() for line in output.splitlines()
        if line.strip() and not re.search(r"DEPRECATED|buildx|Install the buildx", line)
    ]  # fmt: skip
    flagged = [line for line in lines if ERROR_LINE.search(line)] or lines[-3:]
    certificate = [line for line in flagged if CERTIFICATE_ERROR.search(line)][-1:]
    chosen = list(dict.fromkeys(certificate + flagged[-3:]))
    return [shorten(line) for line in chosen]


def host_extra_certificates() -> list[Path]:
    return sorted(HOST_CA_FOLDER.rglob("*.crt")) if HOST_CA_FOLDER.is_dir() else []


def fix_for(output: str, spec: ImageSpec, ca_bundle: Path | None) -> str:
    """What to do about a failed build, from the builder's output."""
    if CERTIFICATE_ERROR.search(output):
        if ca_bundle is not None:
            return (
                f"a server's TLS certificate is not trusted even with ca_bundle={ca_bundle}: "
                "add the CA certificate of this network's TLS-intercepting proxy to that PEM file"
            )
        fix = (
            "a server's TLS certificate was not trusted inside the build: this network "
            "probably intercepts TLS (a proxy). Give the proxy's CA certificate(s) as one PEM "
            "file: --config ca_bundle=/path/to/proxy-ca.pem (or set ca_bundle in "
            "config/config.yaml)"
        )
        extra = host_extra_certificates()
        if extra:
            names = ", ".join(str(p) for p in extra[:4])
            fix += (
                f". This machine trusts extra CA certificates ({names}): "
                f"`cat {HOST_CA_FOLDER}/*.crt > ~/proxy-ca.pem` and "
                "--config ca_bundle=~/proxy-ca.pem"
            )
        return fix
    if re.search(r"pull access denied|manifest unknown|registry-1\.docker\.io", output):
        return (
            "no registry reachable? make a local base image with `python -m edgebench.images "
            "base` and run with --config base_image=edgebench/base:bookworm"
        )
    if spec.vendor_repository and re.search(
        r"Name or service not known|Temporary failure in name resolution|URLError|"
        r"Could not resolve|Failed to fetch|timed out",
        output,
    ):
        return f"this image needs {spec.vendor_repository}, which the build could not reach"
    return "fix what the builder reports (its full output is in the log), then rerun"


def failure_message(name, output, code, spec, ca_bundle, log_name) -> str:
    lines = "\n".join(f"  {line}" for line in error_lines(output))
    message = (
        f"building the {name} image failed (docker build exited with code {code}):\n{lines}\n"
        f"Fix: {fix_for(output, spec, ca_bundle)}."
    )
    if log_name:
        message += f"\nFull build output: {log_name}"
    return message


def remove_leftovers(output: str, keep: set[str]) -> None:
    """The containers and untagged images a failed build leaves (legacy builder: the failed
    step's container, the images of the steps before it), except the images in `keep`."""
    containers = re.findall(r"^ ---> Running in ([0-9a-f]{12,64})$", output, re.MULTILINE)
    if containers:
        subprocess.run(["docker", "rm", "--force", *containers], capture_output=True)
    built = re.findall(r"^ ---> ([0-9a-f]{12,64})$", output, re.MULTILINE)
    listed = subprocess.run(
        ["docker", "images", "--filter", "dangling=true", "--quiet", "--no-trunc"],
        capture_output=True, text=True,
    )  # fmt: skip
    dangling = {line.strip() for line in listed.stdout.splitlines() if line.strip()}
    kept = {k.removeprefix("sha256:") for k in keep}
    for short in reversed(built):  # newest first: removing it frees its untagged parents
        full = next((d for d in dangling if d.removeprefix("sha256:").startswith(short)), None)
        if full and not any(k.startswith(short) for k in kept):
            subprocess.run(["docker", "rmi", full], capture_output=True)


def docker_build(context: Path, tag: str, args: dict, log) -> tuple[int, str]:
    """`docker build` in the foreground, its output streamed to the log; (code, output)."""
    command = ["docker", "build", "--force-rm", "--network", "host", "--tag", tag]
    for key, value in args.items():
        command += ["--build-arg", f"{key}={value}"]
    command.append(str(context))
    print("$ " + redact(" ".join(command)), file=log, flush=True)
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        log.write(line)
    log.flush()
    return process.wait(), "".join(lines)


@contextmanager
def build_lock(path: Path = LOCK):
    """One common-base build at a time on this machine (every user: the file is 0666)."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        os.fchmod(descriptor, 0o666)
    except PermissionError:  # another user's lock file
        descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def build_common(containers: Path, base_image: str | None, ca_bundle: Path | None, log) -> str:
    """Build the common base (one build at a time) and return its image id."""
    spec = ImageSpec(COMMON, "the common base of every toolchain image", ())
    args = {"BASE_IMAGE": base_image} if base_image else {}
    with build_lock(), tempfile.TemporaryDirectory(prefix="edgebench-common-") as tmp:
        context = Path(tmp) / COMMON
        shutil.copytree(containers / COMMON, context)
        (context / "ca").mkdir(exist_ok=True)
        if ca_bundle is not None:
            shutil.copyfile(ca_bundle, context / "ca" / EXTRA_CA_NAME)
        code, output = docker_build(context, image_tag(COMMON), args, log)
        if code != 0:
            remove_leftovers(output, keep=set())
            message = failure_message(
                COMMON, output, code, spec, ca_bundle, getattr(log, "name", None)
            )
            raise ImageBuildError(COMMON, message)
        return docker_image_id(image_tag(COMMON))


def build_image(
    name: str,
    containers: Path,
    record_path: Path,
    log,
    engine: str = "docker",
    base_image: str | None = None,
    ca_bundle: Path | None = None,
) -> dict:
    """Build containers/<name>/ as edgebench/<name>:latest on the common base and write its
    record; ImageBuildError when it cannot be built (no record is written then)."""
    spec = IMAGES.get(name) or ImageSpec(name, "an image outside the catalogue", ())
    tag = image_tag(name)
    ca_bundle = ca_bundle_path(ca_bundle)
    args = build_args(base_image)
    digest = hashlib.sha256()
    for folder in (containers / COMMON, containers / name):
        digest.update(context_digest(folder).encode())
    if ca_bundle is not None:
        digest.update(b"ca_bundle\0" + ca_bundle.read_bytes())
    base_name = base_image or default_base_image(containers)
    record = {
        "image": name,
        "tag": tag,
        "engine": engine,
        "base_image": base_name,
        "build_args": {k: redact(v) for k, v in args.items()},
        "context_sha256": digest.hexdigest(),
        "extra_ca": ca_bundle is not None,
    }
    started = time.monotonic()
    common_id = build_common(containers, base_image, ca_bundle, log)
    record["base_image_id"] = docker_image_id(base_name)
    record["common_image_id"] = common_id
    args = {k: v for k, v in args.items() if k != "BASE_IMAGE"} | {"COMMON_IMAGE": common_id}
    with tempfile.TemporaryDirectory(prefix=f"edgebench-{name}-") as tmp:
        context = Path(tmp) / name
        shutil.copytree(containers / name, context)
        code, output = docker_build(context, tag, args, log)
    if code != 0:
        remove_leftovers(output, keep={common_id})
        message = failure_message(name, output, code, spec, ca_bundle, getattr(log, "name", None))
        raise ImageBuildError(name, message)
    record.update(status="ok", reason="", id=docker_image_id(tag))
    contents = contents_inside(record["id"], name)
    record["versions"] = contents["versions"]
    record["packages"] = contents["packages"]
    if engine == "apptainer":
        record["sif"] = build_sif(name, tag, record_path.with_suffix(".sif"), log)
    record["gpu"] = spec.gpu
    record["duration_s"] = round(time.monotonic() - started, 1)
    write_image_record(record_path, record)
    return record


def build_sif(name: str, tag: str, sif: Path, log) -> str:
    """Convert the built docker image into an Apptainer image file beside the record."""
    tmp = sif.with_name(f".{sif.name}.part")
    command = ["apptainer", "build", "--force", str(tmp), f"docker-daemon:{tag}"]
    print("$ " + " ".join(command), file=log, flush=True)
    process = subprocess.run(command, capture_output=True, text=True)
    log.write(process.stdout + process.stderr)
    if process.returncode != 0:
        tmp.unlink(missing_ok=True)
        lines = "\n".join(f"  {shorten(line)}" for line in error_lines(process.stderr))
        raise ImageBuildError(
            name,
            f"converting the {name} image to {sif} failed (apptainer build exited with code "
            f"{process.returncode}):\n{lines}\nFix: what apptainer reports, then rerun.",
        )
    os.replace(tmp, sif)
    return str(sif)
