"""Run the edgebench Snakemake workflow in this process, through Snakemake's Python API.

The API drives the same Snakefile, config and results folder as the command line, so results
and caches are shared both ways: what `snakemake` already built is not built again here, and
the other way round. Snakemake changes the working directory to the project while it runs and
changes it back afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

from edgebench.settings.errors import ConfigError, Refused
from edgebench.settings.files import REPO


class WorkflowFailed(RuntimeError):
    """The workflow stopped with an error; Snakemake has printed which job and its log."""


def is_project(folder: Path) -> bool:
    return (folder / "Snakefile").is_file() and (folder / "config" / "config.yaml").is_file()


def find_project(project: Path | str | None = None) -> Path:
    """The project folder: the one given, else the working directory, else this checkout."""
    if project is not None:
        folder = Path(project).resolve()
        if not is_project(folder):
            raise FileNotFoundError(f"{folder} is not an edgebench project (no Snakefile/config)")
        return folder
    for folder in (Path.cwd(), REPO):
        if is_project(folder):
            return folder.resolve()
    raise FileNotFoundError(
        "no edgebench project here: pass project= (a folder with the Snakefile, config/ and "
        "devices/), or run from such a folder"
    )


def check_own_package(project: Path) -> None:
    """A project runs the package of its own checkout (its workflow/ folder); this process
    has imported edgebench from REPO, and Snakemake runs the workflow in this process."""
    own = (Path(project) / "workflow").resolve()
    if own != (REPO / "workflow").resolve():
        raise ConfigError(
            f"{project} runs the workflow of {own}, but this Python process runs the edgebench "
            f"package of {REPO / 'workflow'}; run `snakemake` in {project} (its Snakefile puts "
            "its own package first), or use the Python API of that checkout"
        )


def run_workflow(
    project: Path,
    config: dict,
    cores: int | None = None,
    targets: list[str] | None = None,
    verbose: bool = False,
) -> None:
    """Run the workflow like `snakemake --cores N --config ...` in `project`; raise on failure.

    Progress lines and the report's location are printed; every job's details only with
    ``verbose=True`` (they stay in each job's log under results/logs/ either way).
    A configuration the workflow refuses when it loads raises its ConfigError.
    """
    check_own_package(project)
    from snakemake.api import SnakemakeApi
    from snakemake.settings.enums import Quietness
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        OutputSettings,
        ResourceSettings,
    )

    quiet = None if verbose else {Quietness.RULES, Quietness.HOST, Quietness.REASON}
    with SnakemakeApi(OutputSettings(quiet=quiet, show_failed_logs=True)) as api:
        try:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=cores or os.cpu_count() or 1),
                config_settings=ConfigSettings(config=config),
                snakefile=project / "Snakefile",
                workdir=project,
            )
            dag = workflow.dag(DAGSettings(targets=frozenset(targets or ())))
            dag.execute_workflow()
        except Refused as refusal:  # the Snakefile's refusal at load: no exit of this process
            raise refusal.error from None
        except Exception as error:
            api.print_exception(error)
            raise WorkflowFailed(f"the edgebench workflow failed in {project}: {error}") from error
