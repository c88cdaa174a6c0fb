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
) -> Path:
    """Fill `stage` (emptied first) and return the job file's path. `companions` are the
    model's other files (OpenVINO's .bin), staged under the model's stem."""
    if stage.exists():
        shutil.rmtree(stage)
    if with_agent:  # not for a board that runs firmware (its transport sends no Python)
        shutil.copytree(
            AGENT_SOURCE, stage / AGENT_PACKAGE, ignore=shutil.ignore_patterns("__pycache__")
        )
        stage_plugins(stage / AGENT_PACKAGE)
    else:
        stage.mkdir(parents=True)
    staged_model = stage / f"model{model.suffix}"
    shutil.copy2(model, staged_model)
    for companion in companions:
        shutil.copy2(companion, stage / f"model{companion.suffix}")
    job = {**job, "model": staged_model.name, "out": "out"}
    if accuracy_inputs is not None:
        np.save(stage / "inputs.npy", accuracy_inputs.astype(np.float32))
        job["accuracy_inputs"] = "inputs.npy"
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
