"""The results layout, one owner: every path the workflow writes is built here.

Rules use these with wildcard names (`raw_log("{device}", "{workload}", "{format}")` is the
rule's output pattern); the code uses them with values. Nothing parses a path back into ids:
the ids are in the records (raw-log headers, conversion records, meta.json).
"""

from __future__ import annotations

RESULTS = "results"


def dataset(name: str) -> str:
    return f"{RESULTS}/datasets/{name}.npz"


def imagenet_set(workload: str) -> str:
    """An ImageNet-style folder preprocessed the model's way."""
    return f"{RESULTS}/datasets/imagenet/{workload}.npz"


def tiny_set(workload: str) -> str:
    """An MLPerf Tiny test set (config tiny_data) as the accuracy pass reads it."""
    return f"{RESULTS}/datasets/tiny/{workload}.npz"


def workload_model(workload: str) -> str:
    return f"{RESULTS}/workloads/{workload}/model.keras"


def workload_meta(workload: str) -> str:
    return f"{RESULTS}/workloads/{workload}/meta.json"


def build_failure(workload: str) -> str:
    """Why the last build of a workload failed (the builder's own error; while there is no
    model.keras)."""
    return f"{RESULTS}/workloads/{workload}/failure.json"


def image_record(image: str) -> str:
    return f"{RESULTS}/images/{image}.json"


def conversion_record(workload: str, fmt: str) -> str:
    """The conversion record; the converted files lie beside it, named in it."""
    return f"{RESULTS}/converted/{workload}/{fmt}.json"


def reference(workload: str) -> str:
    """float32 Keras outputs on the accuracy inputs."""
    return f"{RESULTS}/reference/{workload}.npz"


def raw_log(device: str, workload: str, fmt: str) -> str:
    """run.jsonl; the other files the device wrote (accuracy.npz ...) lie beside it."""
    return f"{RESULTS}/raw/{device}/{workload}/{fmt}/run.jsonl"


def raw_logs_glob() -> str:
    return f"{RESULTS}/raw/*/*/*/run.jsonl"


def failure_record(device: str, workload: str, fmt: str) -> str:
    """Why the last attempt could not drive the device (while there is no run.jsonl)."""
    return f"{RESULTS}/raw/{device}/{workload}/{fmt}/failure.json"


def stage_root() -> str:
    return f"{RESULTS}/stage"


def stage(device: str, workload: str, fmt: str, job: str) -> str:
    """What a device receives for one job (removed after the run)."""
    return f"{stage_root()}/{device}/{workload}/{fmt}/{job}"


def unreachable_note(device: str) -> str:
    return f"{stage_root()}/unreachable/{device}.json"


def engine_cache_root() -> str:
    """TensorRT engines built on the devices, by cache key (edgebench.devices.engine_cache)."""
    return f"{RESULTS}/engines"


def engine_device_facts(device: str) -> str:
    """The board facts and TensorRT version last seen from a device's engine builds."""
    return f"{engine_cache_root()}/devices/{device}.json"


def plan_manifest(digest: str) -> str:
    return f"{RESULTS}/plans/{digest}.json"


TABLES = f"{RESULTS}/tables"
TABLE_CSV = f"{TABLES}/results.csv"
TABLE_PARQUET = f"{TABLES}/results.parquet"
REPORT = f"{RESULTS}/report/index.html"


def rows_checked() -> str:
    """Written by the last step once no selected row is failed (while one is, it fails)."""
    return f"{TABLES}/checked.json"


def device_digest(device: str) -> str:
    return f"{RESULTS}/report/devices/{device}.json"


def log(*parts: str) -> str:
    """A job's log: results/logs/<parts>.log."""
    return f"{RESULTS}/logs/{'/'.join(parts)}.log"


# The rules whose jobs Snakemake measures (their `benchmark:`), each with its wildcards in the
# order its benchmark path names them.
BENCHMARKED = {
    "build_workload": ("workload",),
    "convert": ("workload", "format"),
    "reference_outputs": ("workload",),
    "run": ("device", "workload", "format"),
    "run_interleaved": ("device", "workload"),  # rules run_interleaved_<device>: every format
    "report_device": ("device",),
    "report": (),
}


def benchmarks_root() -> str:
    return f"{RESULTS}/benchmarks"


def benchmark(stage: str, *wildcards: str) -> str:
    """Snakemake's benchmark TSV of one job (wall seconds, peak memory, CPU time):
    results/benchmarks/<stage>/<wildcards>.tsv; the report's, results/benchmarks/report.tsv.
    `stage` is the rule's name (a key of BENCHMARKED), the wildcards in its order."""
    names = BENCHMARKED.get(stage)
    if names is None or len(wildcards) != len(names):
        raise ValueError(f"no benchmark {stage!r} with wildcards {wildcards}")
    return f"{benchmarks_root()}/{'/'.join((stage, *wildcards))}.tsv"


def benchmark_job(relative: str) -> tuple[str, dict[str, str]] | None:
    """The rule and wildcards of a benchmark TSV's path relative to the project (None for a
    file this layout does not name). The one path read back into ids: a benchmark TSV holds
    only Snakemake's measures, so its path is the only record of the job it measured."""
    root = f"{benchmarks_root()}/"
    if not relative.startswith(root) or not relative.endswith(".tsv"):
        return None
    stage, *wildcards = relative[len(root) : -len(".tsv")].split("/")
    names = BENCHMARKED.get(stage)
    if names is None or len(wildcards) != len(names):
        return None
    return stage, dict(zip(names, wildcards, strict=True))
