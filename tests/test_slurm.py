"""The workflow on a real one-node SLURM cluster (Debian's munge, slurmctld and slurmd, started
by edgebench.testing.slurm) through the pinned executor plugin and profiles/slurm: conversions
become SLURM jobs, the local device's runs stay on the submitting machine, the tables equal a
plain local run's, and a job that SLURM kills for its memory names the resource to raise."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import Project, need
from edgebench import cluster as cluster_failures
from edgebench.testing import slurm

pytestmark = pytest.mark.integration

SUITE = {
    "description": "SLURM test suite",
    "weights": "random",
    "workloads": ["digits-cnn"],  # trained: the tables compared below hold its real accuracy
    "formats": ["tflite-fp32", "tflite-int8", "onnx-fp32"],
    "calibration_samples": 8,
    "batch_sizes": [1],
    "timing": {
        "warmup_runs": 2,
        "warmup_s": 0.0,
        "min_runs": 20,
        "min_s": 0.05,
        "max_s": 1.0,
        "processes": 1,
    },
}
CONVERSIONS = {(w, f) for w in SUITE["workloads"] for f in SUITE["formats"]}
# The profile as a cluster user runs it, plus what this cluster needs: no accounting database
# (job states from squeue), SLURM logs kept to check, quick status checks (a one-node test
# cluster answers squeue at once; a real one is asked every 10 s, Snakemake's default).
SLURM_ARGS = (
    "--profile", "profiles/slurm",
    "--slurm-status-command", "squeue",
    "--slurm-keep-successful-logs",
    "--slurm-init-seconds-before-status-checks", "1",
    "--seconds-between-status-checks", "1",  # Snakemake's default waits 10 s to see a job end
    "--latency-wait", "5",
)  # fmt: skip
ROW = ["device", "workload", "format", "batch", "status"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = slurm.missing()
    need(reason is None, reason or "")
    with slurm.Cluster(tmp_path_factory.mktemp("slurm")) as running:
        with pytest.MonkeyPatch.context() as environment:  # Project.snakemake's environment
            for name, value in running.variables.items():
                environment.setenv(name, value)
            yield running


def suite_project(root: Path) -> Project:
    project = Project(root)
    project.write_yaml("config/suites/slurm-test.yaml", SUITE)
    project.write_yaml(
        "config/config.yaml", {"devices": ["local"], "suite": "slurm-test", "containers": "none"}
    )
    return project


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """The whole workflow with the SLURM executor: the plan as a cluster user runs it."""
    project = suite_project(tmp_path_factory.mktemp("cluster") / "project")
    result = project.snakemake(*SLURM_ARGS)
    return project, result.stdout + result.stderr


@pytest.fixture(scope="module")
def local_run(slurm_run, tmp_path_factory):
    """The same conversions and runs with the local executor, from the same workloads (the
    cluster's builds copied in, so that the two compare converters and not trainings)."""
    cluster_project, _ = slurm_run
    project = suite_project(tmp_path_factory.mktemp("local") / "project")
    for built in ("datasets", "workloads", "reference"):
        shutil.copytree(cluster_project.root / "results" / built, project.root / "results" / built)
    project.snakemake()
    return project


def slurm_logs(project: Project, rule: str) -> dict[str, Path]:
    """SLURM job id -> its log, for the jobs of one rule (the plugin's log layout)."""
    folder = project.root / ".snakemake" / "slurm_logs" / f"rule_{rule}"
    return {path.stem: path for path in folder.glob("*/*.log")}


def test_conversions_ran_as_slurm_jobs_whose_ids_are_in_the_logs(cluster, slurm_run):
    project, output = slurm_run
    jobs = {job["id"]: job for job in cluster.jobs()}
    logs = slurm_logs(project, "convert")
    converted = set()
    for job_id, log in logs.items():
        assert jobs[job_id]["state"] == "COMPLETED"
        assert jobs[job_id]["comment"] == f"rule_convert_wildcards_{log.parent.name}"
        submitted = f"submitted with SLURM jobid {job_id} (log: {log})"
        assert submitted in output
        wildcards = re.search(r"wildcards: workload=(\S+), format=(\S+)", log.read_text())
        converted.add((wildcards[1], wildcards[2]))
    assert converted == CONVERSIONS
    assert slurm_logs(project, "build_workload") and slurm_logs(project, "reference_outputs")


def test_device_runs_and_bookkeeping_stay_on_the_submitting_machine(cluster, slurm_run):
    project, output = slurm_run
    rules_on_cluster = {job["comment"].split("_wildcards_")[0] for job in cluster.jobs()}
    assert rules_on_cluster == {"rule_convert", "rule_build_workload", "rule_reference_outputs"}
    assert output.count("localrule run:") == len(CONVERSIONS)
    raw = project.root / "results" / "raw" / "local"
    assert len(list(raw.glob("*/*/run.jsonl"))) == len(CONVERSIONS)


def test_tables_equal_a_plain_local_runs(slurm_run, local_run):
    project, _ = slurm_run

    def rows(run: Project) -> pd.DataFrame:
        table = pd.read_csv(run.root / "results" / "tables" / "results.csv")
        return table[ROW].sort_values(ROW).reset_index(drop=True)

    on_cluster, local = rows(project), rows(local_run)
    assert len(on_cluster) == len(CONVERSIONS)
    pd.testing.assert_frame_equal(on_cluster, local)


def test_a_job_killed_for_memory_names_the_resource_to_raise(cluster, slurm_run):
    """Runs last: it leaves one conversion of the cluster project failed."""
    project, _ = slurm_run
    target = "results/converted/digits-cnn/tflite-fp32.json"
    result = project.snakemake(
        *SLURM_ARGS, "--set-resources", "convert:mem_mb=700", "-f", target, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    killed = [job for job in cluster.jobs() if job["state"] != "COMPLETED"]
    assert [job["comment"] for job in killed] == ["rule_convert_wildcards_digits-cnn_tflite-fp32"]
    explanation = re.search(r"edgebench: SLURM job (\d+) of rule convert .*", output)
    assert explanation, output
    assert explanation[1] == killed[0]["id"]
    line = explanation[0]
    assert "workload=digits-cnn, format=tflite-fp32" in line
    assert "KILLED for exceeding its memory" in line and "over the 700 MB it asked for" in line
    assert "--set-resources convert:mem_mb=1400" in line


def test_memory_kills_are_read_from_the_slurm_logs_of_this_run(tmp_path):
    """The explanation from the logs alone: a sampled kill with figures, a cgroup OOM kill
    without, and a job that succeeded (its log deleted by the plugin) is not one."""
    logs = tmp_path / ".snakemake" / "slurm_logs" / "rule_convert"
    sampled = logs / "mobilenetv2_onnx-fp32" / "41.log"
    oom = logs / "resnet50_onnx-fp32" / "42.log"
    for path in (sampled, oom):
        path.parent.mkdir(parents=True)
    sampled.write_text(
        "    wildcards: workload=mobilenetv2, format=onnx-fp32\n"
        "slurmstepd-vm: error: StepId=41.0 exceeded memory limit (2147483648 > 1073741824), "
        "being killed\n"
    )
    oom.write_text(
        "slurmstepd: error: Detected 1 oom_kill event in StepId=42.batch. Some of the step "
        "tasks have been OOM Killed.\n"
    )
    main_log = tmp_path / "snakemake.log"
    main_log.write_text(
        "".join(
            f"Job {n} has been submitted with SLURM jobid {job} (log: {path}).\n"
            for n, (job, path) in enumerate(
                [("41", sampled), ("42", oom), ("43", logs / "digits_onnx-fp32" / "43.log")]
            )
        )
    )
    kills = cluster_failures.memory_kills(main_log)
    assert [(k.job_id, k.rule, k.used_mb, k.limit_mb) for k in kills] == [
        ("41", "convert", 2048, 1024),
        ("42", "convert", None, None),
    ]
    assert "--set-resources convert:mem_mb=2048" in kills[0].explanation()
    assert "--set-resources convert:mem_mb=N" in kills[1].explanation()
