"""Config, suites and device profiles: bad values are named, with the valid ones, up front."""

from __future__ import annotations

import pytest
from edgebench.settings import ConfigError, load_plan, parse_devices


def plan(project, **config):
    return load_plan({"devices": ["local"], "suite": "quick", **config}, root=project.root)


def test_devices_accept_a_list_or_the_comma_string_of_the_command_line():
    assert parse_devices("jetson,coral") == ["jetson", "coral"]
    assert parse_devices(["jetson", "coral"]) == ["jetson", "coral"]
    assert parse_devices("local") == ["local"]


def test_default_plan_covers_the_quick_suite_on_the_local_device(project):
    loaded = plan(project)
    assert list(loaded.devices) == ["local"]
    assert "digits-cnn" in loaded.workloads
    assert ("digits-cnn", "tflite-int8") in loaded.conversions()
    assert loaded.devices["local"]["power"]["source"] == "none"


@pytest.mark.parametrize(
    ("config", "bad", "valid"),
    [
        ({"devices": "local,jetsn"}, "'jetsn'", "local"),
        ({"suite": "quik"}, "'quik'", "quick"),
    ],
)
def test_unknown_device_or_suite_is_named_with_the_valid_ones(project, config, bad, valid):
    with pytest.raises(ConfigError) as error:
        plan(project, **config)
    assert bad in str(error.value) and valid in str(error.value)


def test_unknown_workload_in_a_suite_is_named(project):
    project.write_yaml(
        "config/suites/mine.yaml", {"workloads": ["resnet5o"], "formats": ["tflite-fp32"]}
    )
    with pytest.raises(ConfigError) as error:
        plan(project, suite="mine")
    message = str(error.value)
    assert "'resnet5o'" in message and "resnet50" in message and "mine.yaml" in message


def test_unknown_format_in_a_suite_is_named_with_the_valid_ones(project):
    project.write_yaml(
        "config/suites/mine.yaml", {"workloads": ["resnet50"], "formats": ["tflite-int4"]}
    )
    with pytest.raises(ConfigError) as error:
        plan(project, suite="mine")
    assert "tflite-int4" in str(error.value) and "tflite-int8" in str(error.value)


def test_device_profile_is_validated_against_its_schema(project):
    profile = project.read_yaml("devices/local.yaml")
    profile["transport"] = "carrier-pigeon"
    project.write_yaml("devices/local.yaml", profile)
    with pytest.raises(ConfigError) as error:
        plan(project)
    assert "carrier-pigeon" in str(error.value) and "devices/local.yaml" in str(error.value)


def test_device_profile_with_an_unknown_format_is_refused(project):
    profile = project.read_yaml("devices/local.yaml")
    profile["formats"].append("tflite-int3")
    project.write_yaml("devices/local.yaml", profile)
    with pytest.raises(ConfigError, match="tflite-int3"):
        plan(project)


def test_suites_cover_what_their_names_promise(project):
    full = plan(project, suite="full")
    blocks = plan(project, suite="blocks")
    assert {"resnet50", "inceptionv3", "densenet121", "mobilenetv2", "squeezenet11"} <= set(
        full.workloads
    )
    assert {"mnasnet-a1", "digits-cnn"} <= set(full.workloads)
    assert len([w for w in full.workloads if w.startswith(("layer-", "cell-"))]) == 82
    assert len(full.formats) == 10
    assert all(w.startswith(("layer-", "cell-")) for w in blocks.workloads)
    assert len(blocks.workloads) == 82


@pytest.mark.integration
def test_workflow_stops_before_any_job_on_a_bad_device(project):
    result = project.snakemake("-n", "--config", "devices=local,nope", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'nope'" in output and "local" in output
    assert "rule " not in output  # no job was planned


@pytest.mark.integration
def test_workflow_schema_rejects_a_bad_engine_naming_it(project):
    result = project.snakemake("-n", "--config", "containers=podman", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "podman" in output


def test_config_keys_workloads_and_formats_narrow_the_suite(project):
    loaded = plan(project, workloads="digits-cnn,layer-fc-256-64", formats="onnx-fp32")
    assert list(loaded.workloads) == ["digits-cnn", "layer-fc-256-64"]
    assert loaded.conversions() == [("digits-cnn", "onnx-fp32"), ("layer-fc-256-64", "onnx-fp32")]
    assert loaded.suite["batch_sizes"] == [1, 2, 4, 8]  # the rest still comes from the suite
    with pytest.raises(ConfigError, match="config key 'workloads'"):
        plan(project, workloads=["resnet5o"])
    with pytest.raises(ConfigError, match="tflite-int8"):
        plan(project, formats="tflite-int4")
