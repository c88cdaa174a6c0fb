"""Configuration: the run plan (devices x workloads x formats) from config, suites and profiles."""

from edgebench.settings.catalog import WorkloadSpec, load_catalog
from edgebench.settings.errors import ConfigError
from edgebench.settings.plan import Plan, load_plan, parse_devices

__all__ = ["ConfigError", "Plan", "WorkloadSpec", "load_catalog", "load_plan", "parse_devices"]
