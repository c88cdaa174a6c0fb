"""The stage: exactly the files a device receives for one run.

stage/
  edgebench_agent/   the agent package (standard library + numpy + one runtime)
    plugins/         the module file of every installed plugin runtime and on-board power
                     source (entry-point groups edgebench.runtimes, edgebench.power_sources) and
                     origins.json (module -> distribution): the board has no installed
                     distribution, so its agent finds them here (agent/registry.py)
  model.<suffix>     the converted model, and its companion files under the same stem
                     (OpenVINO's model.xml finds its weights as model.bin)
  inputs.npy         accuracy inputs, when the workload has a dataset
  job.json           what to run: format family, batch sizes, timing, threads, seed

An interleaved job (stage_group) stages the agent once, each format's files and job.json under
formats/<format>/, and a job.json that names them; each format's results come back in
out/<format>/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from edgebench.agent import registry, runtimes
from edgebench.agent.power_sources import ON_BOARD as ON_BOARD_SOURCES

AGENT_SOURCE = Path(__file__).resolve().parents[1] / "agent"
AGENT_PACKAGE = "edgebench_agent"


def stage_run(
    stage: Path,
    model: Path,
    job: dict,
    accuracy_inputs: np.ndarray | None,
    companions: list[Path] = (),
    with_agent: bool = True,
    out: str = "out",
) -> Path:
    """Fill `stage` (emptied first) and return the job file's path. `companions` are the
    model's other files (OpenVINO's .bin), staged under the model's stem; `out` is where the
    agent writes, relative to the job file."""
    if stage.exists():
        shutil.rmtree(stage)
    if with_agent:  # not for a board that runs firmware (its transport sends no Python)
        stage_agent(stage)
    else:
        stage.mkdir(parents=True)
    staged_model = stage / f"model{model.suffix}"
    shutil.copy2(model, staged_model)
    for companion in companions:
        shutil.copy2(companion, stage / f"model{companion.suffix}")
    job = {**job, "model": staged_model.name, "out": out}
    if accuracy_inputs is not None:
        np.save(stage / "inputs.npy", accuracy_inputs.astype(np.float32))
        job["accuracy_inputs"] = "inputs.npy"
    job_file = stage / "job.json"
    job_file.write_text(json.dumps(job, indent=2))
    return job_file


def stage_agent(stage: Path) -> None:
    """The agent package (and the installed plugins' modules) into `stage`."""
    shutil.copytree(
        AGENT_SOURCE, stage / AGENT_PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
    )
    stage_plugins(stage / AGENT_PACKAGE)


def stage_group(stage: Path, group_job: dict, members: dict[str, dict]) -> Path:
    """An interleaved job's stage: the agent once, each format's run in formats/<format>/
    (model, companions, inputs, job.json) writing to out/<format>/ (where a transport
    brings `out` back from), and the group's job.json naming them. `members`: format ->
    {model, job, inputs, companions}."""
    if stage.exists():
        shutil.rmtree(stage)
    stage_agent(stage)
    folders = {}
    for name, member in members.items():
        folders[name] = f"formats/{name}"
        stage_run(
            stage / folders[name],
            member["model"],
            member["job"],
            member["inputs"],
            member["companions"],
            with_agent=False,
            out=f"../../out/{name}",
        )
    job = {**group_job, "interleaved": {**group_job["interleaved"], "formats": folders}}
    job_file = stage / "job.json"
    job_file.write_text(json.dumps(job, indent=2))
    return job_file


def stage_plugins(agent: Path) -> None:
    """Copy the module of every installed plugin runtime and on-board power source into the
    staged agent's plugins folder, with which distribution each came from (for the board's
    messages); nothing when none is installed, so the agent's version (its files' digest) is
    the built-in one."""
    modules = {**runtimes.REGISTRY.plugin_modules(), **ON_BOARD_SOURCES.plugin_modules()}
    if not modules:
        return
    folder = agent / registry.PLUGINS
    folder.mkdir()
    (folder / "__init__.py").write_text(
        '"""Plugin modules the host staged (edgebench.devices.staging)."""\n'
    )
    for name, (source, _) in modules.items():
        shutil.copy2(source, folder / f"{name}.py")
    origins = {name: origin for name, (_, origin) in modules.items()}
    (folder / registry.ORIGINS).write_text(json.dumps(origins, indent=2, sort_keys=True))
