"""Metrics: latency statistics, accuracy scores and the tidy result table.

- `stats.summarize`: latency samples (ns) -> median, percentiles, CV, CI of the median (ms).
- `accuracy.score` / `accuracy.reference_accuracy`: top-1/top-5 and agreement with the reference.
- `tables.build_table` / `tables.write_tables`: one row per device x workload x format x batch.

Submodules are imported on use so that `edgebench.metrics.stats` does not pull in pandas.
"""
