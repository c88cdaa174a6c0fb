"""Interleaved schedule: one agent times every format of one workload in rounds.

The group job (the stage's job.json) names each format's own job folder; each format keeps its
own run.jsonl, header, runtime, power log and accuracy pass, exactly as a sequential run writes
them. Only the batches differ: for each batch size, round r (0, 1, ...) runs one fresh agent
process per format, in the formats' order on even rounds and in reverse on odd rounds (A B C,
C B A, A B C, ...), so a slow period of the machine falls on every format alike and no format
always runs first or last. Each sample keeps its round as its process index. A format whose
batch fails in one round runs no more rounds or larger batch sizes (its sweep ends, as in a
sequential run); the others go on.
"""

from __future__ import annotations

import json
from pathlib import Path

from .runner import OpenRun, merged_batch, open_run, run_process

ORDERS = ("alternating",)


def round_order(names: list[str], index: int, order: str = "alternating") -> list[str]:
    """The formats of round `index`: as given on even rounds, reversed on odd ones."""
    if order not in ORDERS:
        raise ValueError(f"unknown interleaving order {order!r}; known: {', '.join(ORDERS)}")
    return list(names) if index % 2 == 0 else list(reversed(names))


def run_interleaved(group: dict, workdir: Path) -> dict[str, str]:
    """Run every format of the group job; returns each format's end status."""
    plan = group["interleaved"]
    runs: dict[str, OpenRun] = {}
    statuses: dict[str, str] = {}
    for name, folder in plan["formats"].items():
        job_file = (workdir / folder / "job.json").resolve()
        job = json.loads(job_file.read_text())
        if group.get("host_clock"):  # measured by the transport on the group's job file
            job["host_clock"] = group["host_clock"]
        opened = open_run(job, job_file.parent, job_file)
        if isinstance(opened, str):  # its runtime does not load here: its log says why
            statuses[name] = opened
        else:
            runs[name] = opened
    rounds = int(plan["rounds"])
    active = dict(runs)
    try:
        batch_sizes = list(
            dict.fromkeys(b for run in runs.values() for b in run.job["batch_sizes"])
        )
        for batch in batch_sizes:
            timing = [name for name in active if batch in active[name].job["batch_sizes"]]
            records: dict[str, list[dict]] = {name: [] for name in timing}
            for index in range(rounds):
                for name in round_order(timing, index, plan.get("order", "alternating")):
                    if records[name] and records[name][-1]["status"] != "ok":
                        continue  # failed in an earlier round: its sweep has ended
                    run = active[name]
                    records[name].append(
                        run_process(run.job, run.job_file, batch, index, run.log, run.power)
                    )
            for name in timing:
                run = active[name]
                run.log.write(merged_batch(batch, records[name]))
                if all(record["status"] == "ok" for record in records[name]):
                    run.any_ok = True
                else:
                    del active[name]
    finally:
        for run in runs.values():
            run.close_power()
    for name, run in runs.items():
        statuses[name] = run.finish()
    return statuses
