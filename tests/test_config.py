"""Config, suites and device profiles: bad values are named, with the valid ones, up front."""

from __future__ import annotations

import pytest
from edgebench.formats import FORMATS
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
    # a first look at every feature family: a trained model (accuracy drop), blocks, a batch
    # sweep, one format of each local runtime, on a time budget
    groups = {spec.group for spec in loaded.workloads.values()}
    assert "digits-cnn" in loaded.workloads and groups > {"models"}
    assert ("digits-cnn", "tflite-int8") in loaded.conversions()
    assert ("digits-cnn", "onnx-fp32") in loaded.conversions()
    assert ("digits-cnn", "openvino-fp32") in loaded.conversions()
    assert len(loaded.suite["batch_sizes"]) > 1 and loaded.suite["timing"]["budget_s"] > 0
    assert loaded.devices["local"]["power"]["source"] == "rapl"  # where readable
    standard = plan(project, suite="standard")  # the quick suite before it was cut down
    assert ("digits-cnn", "openvino-int8") in standard.conversions()
    assert "mobilenetv2" in standard.workloads


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
    assert full.formats == list(FORMATS)  # every format edgebench knows
    assert all(w.startswith(("layer-", "cell-")) for w in blocks.workloads)
    assert len(blocks.workloads) == 82


@pytest.mark.integration
@pytest.mark.parametrize(
    ("devices", "said"),
    [
        ("local,nope", ["'nope'", "local"]),  # unknown name
        # pattern
        ("Local", ["'Local' is refused", "valid devices: coral, jetson, local, mcu, rpi"]),
    ],
)
def test_workflow_stops_before_any_job_on_a_bad_device(project, devices, said):
    result = project.snakemake("-n", "--config", f"devices={devices}", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert all(text in output for text in said)
    assert "rule " not in output and "Failed validating" not in output  # no job, no raw dump


@pytest.mark.integration
def test_workflow_schema_rejects_a_bad_engine_naming_it(project):
    result = project.snakemake("-n", "--config", "containers=podman", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "podman" in output


def set_block(project, name, **changes):
    blocks = project.read_yaml("config/blocks.yaml")
    blocks[name] = {**blocks[name], **changes}
    project.write_yaml("config/blocks.yaml", blocks)


def set_model(project, name, **changes):
    models = project.read_yaml("config/models.yaml")
    models[name] = {**models[name], **changes}
    project.write_yaml("config/models.yaml", models)


# (how the project is changed, --config arguments, what the refusal says): issue 21 item 15
REFUSALS = {
    "block params": (
        lambda p: set_block(p, "layer-fc-256-64", params={"units": -5}),
        [],
        "config/blocks.yaml: 'layer-fc-256-64.params.units' = -5 is out of range",
    ),
    "model rank": (
        lambda p: set_model(p, "mobilenetv2", input_shape=[224, 224]),
        ["suite=standard"],  # a model's rank is checked where a suite selects it
        "model 'mobilenetv2' in config/models.yaml: input_shape [224, 224] has 2 axes",
    ),
    "no batch size": (
        lambda p: write_suite(p, batch_sizes=[]),
        ["suite=mine"],
        "config/suites/mine.yaml: 'batch_sizes' = [] is empty",
    ),
    "suite timing": (
        lambda p: write_suite(p, timing={"min_s": 5, "max_s": 0.1}),
        ["suite=mine"],
        "min_s = 5 (config/suites/mine.yaml) is larger than max_s = 0.1 (config/suites/mine",
    ),
    "empty profile": (
        lambda p: (p.root / "devices" / "local.yaml").write_text(""),
        [],
        "devices/local.yaml is empty; it must hold a device profile",
    ),
    "trailing comma": (
        lambda p: None,
        ["devices=local,"],
        "'devices' = 'local,' has an empty name in its list",
    ),
    "ca_bundle": (
        lambda p: None,
        ["ca_bundle=/no/such.pem"],
        "config key 'ca_bundle' names '/no/such.pem', which does not exist",
    ),
}


@pytest.mark.integration
@pytest.mark.parametrize("case", REFUSALS)
def test_a_refusal_at_load_is_the_edgebench_message_alone(project, case):
    """Refused before any job, on stderr, exit status 1; no WorkflowError line naming
    common.smk and no traceback line of the Snakefile above it."""
    change, arguments, said = REFUSALS[case]
    change(project)
    config = ["--config", *arguments] if arguments else []
    result = project.snakemake("-n", *config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    refusal = [line for line in result.stderr.splitlines() if said in line]
    assert refusal and refusal[0].startswith("edgebench configuration error: ")
    for noise in ("WorkflowError", "common.smk", 'File "', "Traceback", "rule "):
        assert noise not in output, f"{noise!r} in:\n{output}"
    if case == "suite timing":
        assert "devices/local.yaml" not in output  # the profile sets no timing


def test_config_keys_workloads_and_formats_narrow_the_suite(project):
    loaded = plan(
        project, suite="standard", workloads="digits-cnn,layer-fc-256-64", formats="onnx-fp32"
    )
    assert list(loaded.workloads) == ["digits-cnn", "layer-fc-256-64"]
    assert loaded.conversions() == [("digits-cnn", "onnx-fp32"), ("layer-fc-256-64", "onnx-fp32")]
    assert loaded.suite["batch_sizes"] == [1, 2, 4, 8]  # the rest still comes from the suite
    with pytest.raises(ConfigError, match="config key 'workloads'"):
        plan(project, workloads=["resnet5o"])
    with pytest.raises(ConfigError, match="tflite-int8"):
        plan(project, formats="tflite-int4")


# --- every key checked, every refusal explained (issue: configuration errors early) ----------


def write_profile(project, **changes):
    profile = {**project.read_yaml("devices/local.yaml"), **changes}
    project.write_yaml("devices/local.yaml", profile)


def checked_plan(project, **config):
    from edgebench.preflight import check_plan

    loaded = plan(project, **config)
    check_plan(loaded)
    return loaded


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"thread": 2}, "unknown key(s) 'thread'"),
        ({"tming": {"min_s": 1}}, "unknown key(s) 'tming'"),
        ({"runtimes": {"tflite": "tflite_rt"}}, "'runtimes.tflite' = 'tflite_rt' is not one of"),
        ({"runtimes": {"tflitee": "ai_edge_litert"}}, "unknown key(s) 'tflitee' under 'runtimes'"),
        ({"timing": {"min_sec": 1}}, "unknown key(s) 'min_sec' under 'timing'"),
        ({"timing": {"min_s": -1}}, "'timing.min_s' = -1 is out of range"),
        (
            {"timing": {"min_s": 20}},
            "min_s = 20 (devices/local.yaml) is larger than max_s = 3.0 (config/suites/quick",
        ),
        (
            {"timing": {"max_runs": 5}},
            "min_runs = 20 (config/suites/quick.yaml) is larger than max_runs = 5 (devices/",
        ),
        ({"power": {"source": "none", "rail": "VDD_IN"}}, "unknown key(s) 'rail' under 'power'"),
        ({"python": "/no/such/python3"}, "python '/no/such/python3' does not exist"),
        (
            {"power": {"source": "tegrastats", "port": "/dev/ttyUSB0"}},
            "port is not an option of source 'tegrastats' (its options: command, idle_s, "
            "interval_ms, min_samples, rails)",
        ),
        ({"power": {"source": "none", "idle_s": 5}}, "idle_s is not an option of source 'none'"),
        ({"power": {"source": "um25c"}}, "source 'um25c' needs port"),
        (
            {"power": {"source": "um25c", "port": "/dev/no-such-meter"}},
            "/dev/no-such-meter",
        ),
        ({"power": {"source": "command", "command": ["no-such-meter"]}}, "no-such-meter"),
    ],
)
def test_device_profile_mistakes_are_refused_naming_the_key(project, changes, expected):
    write_profile(project, **changes)
    with pytest.raises(ConfigError) as error:
        checked_plan(project)
    assert expected in str(error.value)
    assert "local" in str(error.value)


def test_profile_timing_merges_over_the_suites_with_every_default_filled(project):
    from edgebench.devices.dispatch import run_settings

    write_profile(project, timing={"min_s": 2.0}, threads=3)
    loaded = checked_plan(project, suite="standard")  # the quick suite's budget refuses 2 s
    settings = run_settings(loaded.devices["local"], loaded.suite)
    assert settings["timing"] == {
        "warmup_runs": 5,
        "warmup_s": 0.5,
        "min_runs": 20,
        "min_s": 2.0,
        "max_s": 10.0,
        "max_runs": 10_000,
        "target_ci": 0.01,
        "processes": 0,
        "max_process_spread": 1.05,
        "budget_s": 0.0,
    }
    assert settings["threads"] == 3


def test_a_suite_without_timing_or_threads_takes_the_defaults(project):
    from edgebench.devices.dispatch import run_settings

    project.write_yaml(
        "config/suites/mine.yaml", {"workloads": ["digits-cnn"], "formats": ["tflite-fp32"]}
    )
    loaded = checked_plan(project, suite="mine")
    settings = run_settings(loaded.devices["local"], loaded.suite)
    assert settings["timing"]["min_s"] == 1.0 and settings["threads"] is None


def test_a_suites_unknown_key_is_refused(project):
    project.write_yaml(
        "config/suites/mine.yaml",
        {"workloads": ["digits-cnn"], "formats": ["tflite-fp32"], "timing": {"minimum_s": 1}},
    )
    with pytest.raises(ConfigError, match="unknown key.*'minimum_s' under 'timing'"):
        plan(project, suite="mine")


FILTERS = ("filters_1", "filters_3", "filters_5")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"kind": "conv4d"}, "'layer-mine.kind' = 'conv4d' is not one of conv1d"),
        ({"input_shape": [32, 32]}, "'layer-mine.input_shape' = [32, 32] has the wrong length"),
        ({"strides": 2}, "unknown key(s) 'strides' under 'layer-mine'"),
        # each kind's params (issue 21 item 15a)
        (
            {"kind": "dense", "params": {"units": -5}, "input_shape": [64]},
            "'layer-mine.params.units' = -5 is out of range (-5 is less than the minimum of 1)",
        ),
        (
            {"kind": "dense", "params": {"unit": 5}, "input_shape": [64]},
            "'units' is a required property under 'layer-mine.params' (unknown there: 'unit'; "
            "valid keys: activation, units, use_bias)",
        ),
        ({"params": {"filters": 8, "kernel_size": [3, 0]}}, "'layer-mine.params.kernel_size.1'"),
        ({"params": {"filters": 8, "kernel_size": 3, "padding": "causal"}}, "not one of valid"),
        (
            {"kind": "activation", "params": {"activation": "relu7"}},
            "'layer-mine.params.activation' = 'relu7' is not one of celu, elu",
        ),
        (
            {"kind": "inception", "params": {"reduction": True, **dict.fromkeys(FILTERS, 8)}},
            "'reduce_3' is a required property under 'layer-mine.params'",
        ),
        (
            {"kind": "resnet_identity", "params": {"filters": 8}},
            "adds its input to 4 * filters = 32 channels, but input_shape [8, 8, 3] has 3",
        ),
        (
            {"kind": "reshape", "params": {"target_shape": [8, 8]}},
            "'params.target_shape' = [8, 8] holds 64 elements, but input_shape [8, 8, 3] holds 192",
        ),
    ],
)
def test_block_catalog_mistakes_are_refused_at_load(project, entry, expected):
    blocks = project.read_yaml("config/blocks.yaml")
    params = {"filters": 8, "kernel_size": 3}
    blocks["layer-mine"] = {
        **{"group": "layer", "kind": "conv2d", "params": params, "input_shape": [8, 8, 3]},
        **entry,
    }
    project.write_yaml("config/blocks.yaml", blocks)
    with pytest.raises(ConfigError) as error:
        plan(project)
    assert expected in str(error.value) and "blocks.yaml" in str(error.value)


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        ("my_models.py:tinyy", "defines no 'tinyy'"),
        ("my_modelz.py:tiny", "no file"),
        ("edgebench.workloads.zooo:mobilenetv2", "no importable module 'edgebench.workloads.zooo'"),
        ("edgebench.workloads.zoo:mobilenetv9", "defines no 'mobilenetv9'"),
    ],
)
def test_a_builder_that_does_not_exist_is_refused_at_load(project, builder, expected):
    (project.root / "my_models.py").write_text(
        "def tiny(input_shape, classes, weights):\n    pass\n"
    )
    models = project.read_yaml("config/models.yaml")
    models["mine"] = {"family": "user", "builder": builder, "input_shape": [8, 8, 3], "classes": 2}
    project.write_yaml("config/models.yaml", models)
    with pytest.raises(ConfigError) as error:
        checked_plan(project, workloads="mine")
    assert expected in str(error.value) and "'mine'" in str(error.value)


@pytest.mark.parametrize(
    ("workload", "input_shape", "expected"),
    [
        (
            "mobilenetv2",
            [224, 224],
            "input_shape [224, 224] has 2 axes, but its builder "
            "'edgebench.workloads.zoo:mobilenet_v2' takes 3 (height, width, channels)",
        ),
        ("digits-cnn", [64], "has 1 axis, but its builder 'edgebench.workloads.digits:train'"),
        ("tiny-ad", [5, 128], "'edgebench.workloads.tiny:anomaly_detection' takes 1 (features)"),
    ],
)
def test_a_models_input_shape_of_another_rank_than_its_builder_takes_is_refused(
    project, workload, input_shape, expected
):
    models = project.read_yaml("config/models.yaml")
    models[workload]["input_shape"] = input_shape
    project.write_yaml("config/models.yaml", models)
    with pytest.raises(ConfigError) as error:
        checked_plan(project, workloads=workload)
    assert expected in str(error.value) and f"model {workload!r}" in str(error.value)


def test_imagenet_folder_missing_or_with_bad_labels_is_refused_at_load(project, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        checked_plan(project, imagenet_val={"path": str(tmp_path / "nowhere")})
    folder = tmp_path / "val"
    folder.mkdir()
    (folder / "labels.txt").write_text("a.jpg 1\nb.jpg\n")
    with pytest.raises(ConfigError, match=r"labels.txt:2: expected"):
        checked_plan(project, imagenet_val={"path": str(folder)})
    (folder / "labels.txt").write_text("a.jpg 1\n")
    with pytest.raises(ConfigError, match="'a.jpg'"):
        checked_plan(project, imagenet_val={"path": str(folder)})


def test_a_baseline_without_a_results_table_is_refused_at_load(project, tmp_path):
    with pytest.raises(ConfigError, match="config key baseline: .*nowhere: no such file"):
        checked_plan(project, baseline=str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no results/tables/results.parquet.*cp -r results"):
        checked_plan(project, baseline=str(tmp_path / "empty"))
    tables = tmp_path / "before" / "tables"
    tables.mkdir(parents=True)
    (tables / "results.csv").write_text("device,workload,format,batch,status\n")
    assert checked_plan(project, baseline=str(tmp_path / "before")).baseline


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("../x", "'../x' is refused"),
        ("Local", "'Local' is refused"),
        ("", "is empty"),
        ("local,", "'devices' = 'local,' has an empty name in its list (a trailing, leading"),
        ("local,,jetson", "or doubled comma); write 'local,jetson'"),
    ],
)
def test_refused_config_values_are_explained_with_the_valid_names(project, value, shown):
    from edgebench.settings.plan import validate_config

    with pytest.raises(ConfigError) as error:
        validate_config({"devices": value, "suite": "quick", "containers": "none"}, project.root)
    message = str(error.value)
    assert shown in message and "valid devices: coral, jetson, local, mcu, rpi" in message
    assert "None" not in message and "Failed validating" not in message


def test_serial_boards_are_checked_at_load_port_firmware_map_and_keys(project, tmp_path):
    import os
    import pty

    main, other = pty.openpty()
    port = os.ttyname(other)
    board = {"transport": "serial", "port": port, "formats": ["tflite-int8"]}
    board["power"] = {"source": "none"}
    try:
        project.write_yaml("devices/mcu.yaml", {"name": "mcu", **board})
        # a sequential suite: the default quick one interleaves, which a serial board refuses
        loaded = checked_plan(project, suite="tiny", devices="local,mcu")
        assert loaded.devices["mcu"]["port"] == port
        link = tmp_path / "by-id"
        link.symlink_to(port)
        project.write_yaml("devices/mcu2.yaml", {"name": "mcu2", **board, "port": str(link)})
        with pytest.raises(ConfigError, match="two devices on one serial port.*mcu and mcu2"):
            checked_plan(project, devices="mcu,mcu2")
        mistakes = [
            ({"port": "/dev/no-such-board"}, "port '/dev/no-such-board' does not exist"),
            ({"models": {"ic01": "tiny-icc"}}, "maps ic01 to 'tiny-icc', which is no workload"),
            ({"threads": 2}, "threads does not apply to a serial board"),
            ({"port": 22}, "devices/mcu.yaml"),
        ]
        for change, expected in mistakes:
            project.write_yaml("devices/mcu.yaml", {"name": "mcu", **board, **change})
            with pytest.raises(ConfigError) as error:
                checked_plan(project, devices="mcu")
            assert expected in str(error.value)
    finally:
        os.close(main)
        os.close(other)


def test_a_tiny_test_set_that_is_not_there_is_refused_at_load(project, tmp_path):
    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    assert checked_plan(project, suite="tiny", tiny_data={"ic": str(cifar)}).tiny_data
    with pytest.raises(ConfigError, match="tiny_data.kws: /no/kws.npz does not exist"):
        checked_plan(project, suite="tiny", tiny_data={"ic": str(cifar), "kws": "/no/kws.npz"})


# --- load-time checks that were missing or misleading (issue 21 item 15) ---------------------


def write_suite(project, **changes):
    """config/suites/mine.yaml: the quick suite with `changes`."""
    suite = {**project.read_yaml("config/suites/quick.yaml"), **changes}
    return project.write_yaml("config/suites/mine.yaml", suite)


@pytest.mark.parametrize(
    ("batch_sizes", "expected"),
    [([], "'batch_sizes' = [] is empty"), ([1, 1], "'batch_sizes' = [1, 1] lists a value")],
)
def test_a_suite_without_batch_sizes_or_with_one_twice_is_refused(project, batch_sizes, expected):
    write_suite(project, batch_sizes=batch_sizes)
    with pytest.raises(ConfigError) as error:
        plan(project, suite="mine")
    assert expected in str(error.value) and "config/suites/mine.yaml" in str(error.value)


@pytest.mark.parametrize(
    ("text", "found"),
    [("", "is empty"), ("# nothing yet\n", "is empty"), ("- local\n", "holds a list")],
)
def test_an_empty_profile_says_so_and_what_a_profile_holds(project, text, found):
    (project.root / "devices" / "local.yaml").write_text(text)
    with pytest.raises(ConfigError) as error:
        plan(project)
    message = str(error.value)
    assert f"devices/local.yaml {found}" in message and "NoneType" not in message
    assert "a device profile" in message
    assert "keys name, transport, formats, power (config/device.schema.yaml)" in message


@pytest.mark.parametrize(
    ("suite_timing", "profile_timing", "expected"),
    [
        (
            {"min_s": 5, "max_s": 0.1},
            None,
            "min_s = 5 (config/suites/mine.yaml) is larger than max_s = 0.1 "
            "(config/suites/mine.yaml)",
        ),
        (
            {"max_s": 3},
            {"min_s": 5},
            "min_s = 5 (devices/local.yaml) is larger than max_s = 3 (config/suites/mine.yaml)",
        ),
    ],
)
def test_a_timing_contradiction_names_the_file_each_value_came_from(
    project, suite_timing, profile_timing, expected
):
    write_suite(project, timing=suite_timing)
    if profile_timing:
        write_profile(project, timing=profile_timing)
    with pytest.raises(ConfigError) as error:
        plan(project, suite="mine")
    assert expected in str(error.value) and "device 'local'" in str(error.value)
    if profile_timing is None:
        assert "devices/local.yaml" not in str(error.value)  # the profile sets no timing


def test_a_ca_bundle_is_checked_with_containers_off_too(project):
    """Only image builds use ca_bundle, but it is a site setting (config/config.yaml): a wrong
    one is refused whenever it is set, not at the first run with containers."""
    from edgebench.images.checks import check_images

    config = {"containers": "none", "ca_bundle": "config/proxy-ca.pem"}
    with pytest.raises(ConfigError) as error:
        check_images([], config, project.root)
    assert "'config/proxy-ca.pem'" in str(error.value) and "does not exist" in str(error.value)
    assert "only image builds (containers docker or apptainer) use it" in str(error.value)
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    (project.root / "config" / "proxy-ca.pem").write_text(pem)
    check_images([], config, project.root)


@pytest.mark.parametrize(
    ("suite_timing", "profile_timing", "expected"),
    [
        (
            {"min_s": 1.0, "max_s": 10.0, "budget_s": 2.0},
            None,
            "budget_s = 2 (config/suites/mine.yaml) gives each of 3 processes 0.667 s, less "
            "than min_s = 1.0 (config/suites/mine.yaml): raise budget_s to at least 3",
        ),
        (
            {"min_s": 0.3, "max_s": 3.0, "budget_s": 1.5},
            {"min_s": 1.0},
            "budget_s = 1.5 (config/suites/mine.yaml) gives each of 3 processes 0.5 s, less "
            "than min_s = 1.0 (devices/local.yaml)",
        ),
        (
            {"min_s": 0.3, "max_s": 1.0, "budget_s": 9.0},
            None,
            "budget_s = 9 (config/suites/mine.yaml) never stops a window: its share for 3 "
            "processes, 3 s, is at or above max_s = 1.0 (config/suites/mine.yaml)",
        ),
        (
            {"min_s": 0.3, "max_s": 3.0, "budget_s": 1.5, "target_ci": 0},
            None,
            "never stops a window: target_ci = 0 (config/suites/mine.yaml) stops every window",
        ),
        (
            {"min_s": 0.3, "max_s": 3.0, "budget_s": 1.5, "processes": 6},
            None,
            "gives each of 6 processes 0.25 s, less than min_s = 0.3",
        ),
    ],
)
def test_a_budget_that_cannot_be_kept_or_never_binds_is_refused(
    project, suite_timing, profile_timing, expected
):
    """The quick suite interleaves (3 rounds for every workload): budget_s / 3 is each
    process's share, refused below min_s and where it could never stop a window."""
    write_suite(project, timing=suite_timing)
    if profile_timing:
        write_profile(project, timing=profile_timing)
    with pytest.raises(ConfigError) as error:
        plan(project, suite="mine")
    assert expected in str(error.value) and "timing budget is refused" in str(error.value)


def test_a_budget_is_checked_against_the_process_counts_its_workloads_get(project):
    """Sequential: 3 processes for models, 1 for blocks; a budget binding for one of them is
    kept, a misspelt budget key is refused, never ignored."""
    timing = {"min_s": 0.3, "max_s": 3.0, "budget_s": 4.0}  # models 1.33 s, blocks 4 s (max_s)
    write_suite(project, schedule="sequential", timing=timing)
    assert plan(project, suite="mine").suite["timing"]["budget_s"] == 4.0
    write_suite(project, schedule="sequential", workloads=["layer-conv2d-f32-s1"], timing=timing)
    with pytest.raises(ConfigError, match="its share for 1 process, 4 s, is at or above"):
        plan(project, suite="mine")
    write_suite(project, timing={"min_s": 0.3, "budget": 1.5})
    with pytest.raises(ConfigError, match="unknown key.*'budget' under 'timing'"):
        plan(project, suite="mine")
