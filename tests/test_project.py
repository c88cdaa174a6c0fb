"""The project's own files agree: the conda environment with pyproject.toml, the lint tools with
the setup that installs them, and .ci/run with what CI needs from it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;,]+)$")


def normalised(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str], where: str) -> dict[str, str]:
    """{name: version} of `name==version` requirements; anything not pinned exactly fails."""
    found = {}
    for requirement in requirements:
        match = PINNED.match(requirement.strip())
        assert match, f"{where}: {requirement!r} is not pinned as name==version"
        name = normalised(match[1])
        assert name not in found, f"{where}: {match[1]} is listed twice"
        found[name] = match[2]
    return found


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_conda_environment_pins_exactly_what_pyproject_pins():
    project = pyproject()["project"]
    wanted = pins(project["dependencies"], "pyproject.toml [project] dependencies")
    env_file = REPO / "envs" / "edgebench.yaml"
    env = yaml.safe_load(env_file.read_text())
    pip = [entry["pip"] for entry in env["dependencies"] if isinstance(entry, dict)]
    assert len(pip) == 1, f"{env_file}: one pip section expected"
    editable = [entry for entry in pip[0] if str(entry).startswith("-e ")]
    listed = pins([entry for entry in pip[0] if entry not in editable], str(env_file))
    missing = {name: version for name, version in wanted.items() if name not in listed}
    extra = {name: version for name, version in listed.items() if name not in wanted}
    differ = {
        name: (wanted[name], listed[name])
        for name in wanted.keys() & listed.keys()
        if wanted[name] != listed[name]
    }
    assert not missing, f"{env_file} lacks pyproject's {missing}"
    assert not extra, f"{env_file} pins what pyproject does not: {extra}"
    assert not differ, f"versions differ (pyproject, env file): {differ}"
    # and the project itself, installed from the folder that holds pyproject.toml
    assert len(editable) == 1
    assert (env_file.parent / editable[0].split(maxsplit=1)[1] / "pyproject.toml").is_file()
    python = next(str(e) for e in env["dependencies"] if str(e).startswith("python"))
    version = tuple(int(part) for part in python.split("=")[-1].strip().split("."))
    minimum = tuple(int(part) for part in project["requires-python"].removeprefix(">=").split("."))
    assert version >= minimum, f"{env_file}: {python} against requires-python {minimum}"


def lint_tools() -> list[str]:
    """The programs the Makefile's lint targets run from the virtual environment."""
    makefile = (REPO / "Makefile").read_text()
    targets = re.search(r"^LINTS := (.+)$", makefile, re.M)[1].split()
    tools = []
    for target in targets:
        recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, re.M)
        assert recipe, f"the Makefile has no recipe for {target}"
        tools += re.findall(r"\$\(BIN\)/(\S+)", recipe[1])
    return tools


def test_every_lint_tool_is_installed_by_the_setup():
    """`make setup` installs `.[dev]`: each lint program must come from a distribution that
    pyproject names there (or among the runtime dependencies), not from whatever is on PATH."""
    tools = lint_tools()
    assert {"ruff", "snakefmt", "snakemake", "hadolint"} <= set(tools)
    project = pyproject()["project"]
    named = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    installed_by = {}
    for name in pins(named, "pyproject.toml"):
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        for file in files:
            if file.parent.name == "bin":
                installed_by.setdefault(file.name, name)
    missing = [tool for tool in tools if tool not in installed_by]
    assert not missing, f"no dependency in pyproject.toml installs {missing}"


FAKE_MAKE = """#!/usr/bin/env bash
echo "make $*" >> "$FAKE_LOG"
case "$*" in
  *lint*) echo "lint findings"; exit "$FAKE_LINT" ;;
  test) echo "=========== 3 passed, $FAKE_FAILED failed in 0.01s ==========="; exit "$FAKE_TEST" ;;
esac
"""


@pytest.mark.parametrize(
    ("lint", "tests", "status"),
    [(0, 0, 0), (2, 0, 2), (0, 1, 1), (2, 1, 1)],
    ids=["both pass", "lint fails", "tests fail", "both fail"],
)
def test_ci_runs_the_lint_then_the_tests_and_fails_when_either_fails(tmp_path, lint, tests, status):
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, script in {
        "make": FAKE_MAKE,
        "apt-get": '#!/usr/bin/env bash\necho "apt-get $*" >> "$FAKE_LOG"\n',
    }.items():
        (fake / name).write_text(script)
        (fake / name).chmod(0o755)
    log = tmp_path / "calls"
    env = {
        **os.environ,
        "PATH": f"{fake}:{os.environ['PATH']}",
        "CI": "true",
        "FAKE_LOG": str(log),
        "FAKE_LINT": str(lint),
        "FAKE_TEST": str(tests),
        "FAKE_FAILED": str(tests),
    }
    result = subprocess.run(
        ["bash", str(REPO / ".ci" / "run")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=60,
    )
    assert result.returncode == status, result.stdout
    makes = [line for line in log.read_text().splitlines() if line.startswith("make ")]
    assert makes == ["make -k lint", "make test"]  # the lint first, the tests whatever it said
    last = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=+ 3 passed, \d failed in [\d.]+s =+", last), result.stdout
    assert ("make lint FAILED" in result.stdout) == (lint != 0)


# --- two checkouts, one environment (issue 21 item 17) ----------------------------------------

# Appended to the second checkout's edgebench/__init__.py: every process that imports that
# package records its pid and the file it imported.
PROBE = """
import os as _os

if _os.environ.get("CHECKOUT_PROBE"):
    with open(_os.environ["CHECKOUT_PROBE"], "a") as _probe:
        _probe.write(f"{_os.getpid()} {__file__}\\n")
"""


@pytest.fixture
def second_checkout(tmp_path) -> Path:
    """A second checkout beside this one (workflow/ copied, not linked), whose package differs
    visibly: it records every import of itself. This environment was installed from this one."""
    from edgebench.testing.project import copy_project

    other = copy_project(tmp_path / "other", link_workflow=False)
    init = other / "workflow" / "edgebench" / "__init__.py"
    init.write_text(init.read_text() + PROBE)
    return other


@pytest.mark.integration
def test_a_second_checkout_runs_its_own_package_in_the_workflow_and_its_scripts(
    second_checkout, tmp_path
):
    probe = tmp_path / "imports.txt"
    snakemake = Path(sys.executable).parent / "snakemake"
    result = subprocess.run(
        [str(snakemake), "--cores", "1", "results/datasets/digits.npz"],
        cwd=second_checkout,
        env={**os.environ, "CHECKOUT_PROBE": str(probe)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (second_checkout / "results" / "datasets" / "digits.npz").is_file()
    imports = [line.split(" ", 1) for line in probe.read_text().splitlines()]
    own = str(second_checkout / "workflow" / "edgebench" / "__init__.py")
    assert {file for _, file in imports} == {own}
    assert len({pid for pid, _ in imports}) >= 2  # the workflow and the script it ran


def test_a_workflow_whose_process_runs_another_checkouts_package_is_refused_at_load(
    second_checkout,
):
    """Snakemake started in a process that already imported this checkout's edgebench (an
    import hook finds it first, or it was imported before): the second checkout's Snakefile
    says so and stops, and the Python API refuses before Snakemake starts."""
    import edgebench
    from edgebench.api.workflow import run_workflow
    from edgebench.settings import ConfigError

    started = "import edgebench, sys; from snakemake.cli import main; main(sys.argv[1:])"
    result = subprocess.run(
        [sys.executable, "-c", started, "-n", "--cores", "1"],
        cwd=second_checkout,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert f"must run its own package, {second_checkout / 'workflow' / 'edgebench'}" in (
        result.stderr
    )
    assert f"already runs the one in {Path(edgebench.__file__).parent}" in result.stderr
    with pytest.raises(ConfigError, match="this Python process runs the edgebench package of"):
        run_workflow(second_checkout, {})
