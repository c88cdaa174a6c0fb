"""The serial transport: an MLPerf Tiny board (the emulator on a real pseudo-terminal) driven
through the dispatcher, its windows in the raw log, and the checks a serial profile gets."""

from __future__ import annotations

import json
import os
import pty

import numpy as np
import pytest
from edgebench.devices.serial import window_sample, window_size
from edgebench.devices.serial_profile import serial_profile_problems, shared_ports
from edgebench.devices.transport import key_problems
from edgebench.rawlog import read_run


def serial_profile(**overrides) -> dict:
    profile = {
        "name": "mcu",
        "transport": "serial",
        "port": "/dev/ttyACM0",
        "formats": ["tflite-int8"],
        "power": {"source": "none"},
    }
    return {**profile, **overrides}


def test_a_window_lasts_at_least_window_s_after_calibration():
    assert window_size(per_inference_us=100_000, window_s=10) == 105  # 5% over 10 s
    assert window_size(per_inference_us=20_000_000, window_s=10) == 1
    assert window_size(per_inference_us=0, window_s=1) == 1_050_000  # a 0 us reading: 1 us


def test_a_serial_profile_refuses_what_its_firmware_decides(tmp_path):
    catalog = {"tiny-ic": {}, "tiny-kws": {}, "tiny-vww": {}, "tiny-ad": {}}
    main, other = pty.openpty()
    try:
        port = os.ttyname(other)
        assert serial_profile_problems(serial_profile(port=port), catalog) == []
        problems = serial_profile_problems(
            serial_profile(port=port, threads=2, formats=["tflite-int8", "onnx-fp32"],
                           power={"source": "rapl"}, models={"ic01": "tiny-icc"}),
            catalog,
        )  # fmt: skip
    finally:
        os.close(main)
        os.close(other)
    assert any(p.startswith("threads does not apply to a serial board") for p in problems)
    assert any("onnx-fp32 cannot run on MLPerf Tiny firmware" in p for p in problems)
    assert any("power source rapl runs on the board" in p for p in problems)
    assert any("models maps ic01 to 'tiny-icc', which is no workload" in p for p in problems)
    (missing,) = serial_profile_problems(serial_profile(port=str(tmp_path / "tty")), catalog)
    assert "does not exist: is the board plugged in?" in missing


def test_keys_of_another_transport_are_refused_naming_the_transport_they_belong_to():
    local = {"name": "local", "transport": "local", "formats": [], "power": {"source": "none"}}
    assert key_problems({**local, "windows": 3}) == [
        "windows applies to transport serial only, not local"
    ]
    assert key_problems({**local, "lifeline_timeout_s": 10}) == [
        "lifeline_timeout_s applies to transport ssh only, not local"
    ]
    assert key_problems({**local, "transport": "ssh", "host": "b", "lifeline_timeout_s": 10}) == []
    assert key_problems({**local, "retries": 2}) == [
        "retries applies to transport serial and ssh only, not local"
    ]


def test_two_devices_on_one_port_are_found_through_links(tmp_path):
    main, other = pty.openpty()
    try:
        tty = os.ttyname(other)
        link = tmp_path / "by-id-link"
        link.symlink_to(tty)
        one = serial_profile(name="one", port=tty)
        two = serial_profile(name="two", port=str(link))
        (clash,) = shared_ports([one, two])
        assert "one and two" in clash
        meter = {"source": "serial-meter", "port": str(link)}
        local = {"name": "bench", "transport": "local", "formats": [], "power": meter}
        assert shared_ports([one, local]) and not shared_ports([one])
    finally:
        os.close(main)
        os.close(other)


def test_the_reference_ic_firmware_gets_uint8_pixels():
    from edgebench.devices.serial import encoded

    values = np.array([-128, 0, 127], dtype=np.int8)
    assert encoded(values, "tensor") == bytes([0x80, 0x00, 0x7F])
    assert encoded(values, "uint8") == bytes([0, 128, 255])


class FakeWindow:  # the Window fields a sample record reads
    def __init__(self, count, start_us, end_us):
        self.count, self.start_us, self.end_us = count, start_us, end_us
        self.elapsed_us = (end_us - start_us) % 2**32


def test_a_window_is_one_sample_divided_among_its_inferences(tmp_path):
    windows = [FakeWindow(100, 1_000, 201_000), FakeWindow(100, 2**32 - 50_000, 250_000)]
    samples = [window_sample(w) for w in windows]
    assert samples[1]["end_ns"] - samples[1]["start_ns"] == 300_000_000  # across the wrap
    header = {"type": "header", "format_version": 3, "device": "mcu", "workload": "w",
              "format": "tflite-int8"}  # fmt: skip
    batch = {"type": "batch", "batch": 1, "status": "ok", "runs": 200}
    end = {"type": "end", "status": "complete"}
    path = tmp_path / "run.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [header, *samples, batch, end]))
    run = read_run(path)
    assert run.samples[1].tolist() == [2_000_000, 3_000_000]  # ns per inference
    path.write_text("\n".join(json.dumps(r) for r in [header, *samples, {**batch, "runs": 2}, end]))
    with pytest.raises(ValueError, match="runs=2 but its samples hold 200 inferences"):
        read_run(path)
    bad = {**samples[0], "inferences": 0}
    path.write_text("\n".join(json.dumps(r) for r in [header, bad, batch, end]))
    with pytest.raises(ValueError, match="inferences must be a positive integer"):
        read_run(path)


# --- the transport against the emulated board on a real pseudo-terminal --------------------

INPUT_SHAPE = (8, 8, 1)


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory):
    """A small int8 classifier and its conversion record, as the workflow writes them."""
    import keras
    from edgebench.convert.tflite import convert
    from edgebench.fileio import sha256_file, write_json
    from edgebench.formats import FORMATS

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=INPUT_SHAPE)
    features = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    features = keras.layers.GlobalAveragePooling2D()(features)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(features))
    calibration = np.random.default_rng(0).random((16, *INPUT_SHAPE), dtype=np.float32)
    folder = tmp_path_factory.mktemp("converted")
    path = folder / "tflite-int8.tflite"
    path.write_bytes(convert(model, FORMATS["tflite-int8"], calibration))
    record = {"status": "ok", "reason": "", "model_file": path.name, "sha256": sha256_file(path)}
    write_json(folder / "tflite-int8.json", record)
    return folder / "tflite-int8.json"


def drive_board(tmp_path, conversion, port, dataset=None, stage="stage", **profile_keys):
    """One run through the dispatcher, as the workflow's run step makes it."""
    from edgebench.devices.dispatch import job_settings, run_on_device

    keys = dict(
        port=port, models={"ic01": "w"}, windows=3, window_s=0.05, warmup_runs=1,
        calibration_runs=3, banner_wait_s=0.3, command_timeout_s=2.0, backoff_s=0.05,
    )  # fmt: skip
    profile = serial_profile(**{**keys, **profile_keys})
    suite = {"seed": 0, "batch_sizes": [1, 2], "timing": {}}
    meta = {"group": "models", "workload": "w", "input_range": [0.0, 1.0]}
    job = job_settings(profile, suite, meta, "tflite-int8")
    raw_log = tmp_path / "raw" / "run.jsonl"
    with open(tmp_path / "run.log", "w") as log:
        status = run_on_device(
            profile, job, conversion, raw_log, log, dataset, stage_root=tmp_path / stage
        )
    return status, raw_log


def test_the_board_times_windows_on_its_own_clock_and_scores_like_the_host(
    tmp_path, int8_model, monkeypatch
):
    from edgebench.agent.runner import quantize
    from edgebench.agent.runtimes import load_runtime
    from edgebench.testing.mcu_emulator import Emulator

    monkeypatch.chdir(tmp_path)
    inputs = np.random.default_rng(1).random((40, *INPUT_SHAPE), dtype=np.float32)
    dataset = tmp_path / "dataset.npz"
    np.savez(dataset, x_test=inputs)
    model = int8_model.parent / "tflite-int8.tflite"
    with Emulator(model, model_id="ic01") as board:
        status, raw_log = drive_board(tmp_path, int8_model, board.port, dataset)
    assert status == "complete"
    run = read_run(raw_log)
    (batch,) = run.batches
    assert batch["windows"] == 3 and len(run.samples[1]) == 3
    assert run.header["facts"]["firmware_model"] == "ic01"
    assert run.header["runtime"]["name"] == "mlperf-tiny-firmware"
    assert (run.samples[1] > 0).all()
    windows = [json.loads(line) for line in raw_log.read_text().splitlines()[1:4]]
    spans_s = [(w["end_ns"] - w["start_ns"]) / 1e9 for w in windows]
    assert batch["short_windows"] == sum(span < 0.05 for span in spans_s)  # said, not hidden
    assert batch["runs"] == sum(w["inferences"] for w in windows)
    from edgebench.metrics.tables import timing_note

    assert "2 of 3 windows lasted less than window_s (10 s)" in timing_note(
        {**batch, "short_windows": 2, "window_s": 10}, {}
    )
    # the accuracy pass: the same int8 file on the host's LiteRT, as the local agent runs it
    outputs = np.load(raw_log.parent / "accuracy.npz")["outputs"]
    runtime = load_runtime("tflite", None, {})
    runtime.prepare(str(model), 1, 1)
    _, dtype, quantization = runtime.input_spec()
    local = []
    for sample in inputs:
        runtime.feed(quantize(sample[np.newaxis], dtype, quantization))
        runtime.infer()
        local.append(runtime.output()[0])
    assert outputs.shape == (40, 10)
    assert (outputs.argmax(1) == np.asarray(local).argmax(1)).all()
    np.testing.assert_allclose(outputs, np.asarray(local), atol=5e-4)  # printed %0.3f


def test_a_reset_mid_window_is_retried_and_never_recorded(tmp_path, int8_model, monkeypatch):
    from edgebench.testing.mcu_emulator import Emulator

    monkeypatch.chdir(tmp_path)
    model = int8_model.parent / "tflite-int8.tflite"
    with Emulator(model, model_id="ic01", misbehave={"reset"}) as board:
        status, raw_log = drive_board(tmp_path, int8_model, board.port)
    assert status == "complete"
    assert len(read_run(raw_log).samples[1]) == 3
    assert "(attempt 1 of 4)" in (tmp_path / "run.log").read_text()


def test_a_silent_or_busy_board_fails_the_job_and_says_why(tmp_path, int8_model, monkeypatch):
    import time

    from edgebench.devices.dispatch import DeviceFailed
    from edgebench.devices.tiny_protocol import DutLink
    from edgebench.testing.mcu_emulator import Emulator

    monkeypatch.chdir(tmp_path)
    model = int8_model.parent / "tflite-int8.tflite"
    with Emulator(model, misbehave={"silent"}) as board:
        started = time.monotonic()
        with pytest.raises(DeviceFailed, match="baud"):
            drive_board(tmp_path, int8_model, board.port)
        assert time.monotonic() - started < 20
    failure = json.loads((tmp_path / "results/raw/mcu/w/tflite-int8/failure.json").read_text())
    assert failure["status"] == "failed"
    # a stage of its own: in one workflow session a device found unreachable is not tried again
    with Emulator(model) as board, DutLink(board.port, banner_wait_s=0.2):
        with pytest.raises(DeviceFailed, match="busy|another program"):
            drive_board(tmp_path, int8_model, board.port, stage="busy")


def test_a_workload_the_firmware_does_not_hold_is_an_unsupported_row(
    tmp_path, int8_model, monkeypatch
):
    from edgebench.testing.mcu_emulator import Emulator

    monkeypatch.chdir(tmp_path)
    model = int8_model.parent / "tflite-int8.tflite"
    with Emulator(model, model_id="kws01") as board:
        status, raw_log = drive_board(tmp_path, int8_model, board.port)
        assert status == "unsupported"
        assert "firmware holds kws01" in read_run(raw_log).end["reason"]
        status, raw_log = drive_board(
            tmp_path, int8_model, board.port, models={"kws01": "tiny-kws"}
        )
    assert status == "unsupported"
    assert "no firmware model maps to workload 'w'" in read_run(raw_log).end["reason"]


def test_a_misread_lap_line_is_retried_and_never_recorded(tmp_path, int8_model, monkeypatch):
    from edgebench.testing.mcu_emulator import Emulator

    monkeypatch.chdir(tmp_path)
    model = int8_model.parent / "tflite-int8.tflite"
    with Emulator(model, model_id="ic01", misbehave={"lap-digit"}) as board:
        status, raw_log = drive_board(tmp_path, int8_model, board.port)
    assert status == "complete"
    log = (tmp_path / "run.log").read_text()
    assert "a lap line was misread" in log and "(attempt 1 of 4)" in log
    windows = [json.loads(line) for line in raw_log.read_text().splitlines()[1:4]]
    assert all(w["end_ns"] - w["start_ns"] < 60e9 for w in windows)  # the 70 s misread is gone


def test_energy_mode_firmware_is_refused_at_once(tmp_path, int8_model, monkeypatch):
    from edgebench.testing.mcu_emulator import Emulator

    monkeypatch.chdir(tmp_path)
    model = int8_model.parent / "tflite-int8.tflite"
    with Emulator(model, model_id="ic01", timestamp_mode="energy", boot_delay_s=0.5) as board:
        status, raw_log = drive_board(tmp_path, int8_model, board.port, banner_wait_s=60.0)
    assert status == "unsupported"
    assert "energy mode" in read_run(raw_log).end["reason"]
    assert "attempt" not in (tmp_path / "run.log").read_text()


def test_a_board_that_went_quiet_is_told_apart_from_a_wrong_baud(tmp_path, int8_model, monkeypatch):
    from edgebench.devices.dispatch import DeviceFailed
    from edgebench.testing.mcu_emulator import Emulator

    monkeypatch.chdir(tmp_path)
    model = int8_model.parent / "tflite-int8.tflite"
    with Emulator(model, model_id="ic01", misbehave={"hang"}) as board:
        with pytest.raises(DeviceFailed) as caught:
            drive_board(tmp_path, int8_model, board.port, retries=1, command_timeout_s=1.0)
    message = str(caught.value)
    assert "then stopped answering" in message and "the board answered" in message
    assert "check the cable and the baud" not in message


def test_a_noisy_window_makes_a_serial_row_unstable_and_the_note_says_what_was_measured():
    from edgebench.metrics.tables import MAX_WINDOW_SPREAD, batch_columns

    record = {"type": "batch", "batch": 1, "status": "ok", "runs": 50_000, "windows": 5,
              "stopped_by": "windows", "window_s": 10.0, "short_windows": 0}  # fmt: skip
    steady = np.array([1_000_000, 1_000_010, 999_990, 1_000_000, 1_000_005])  # ns / inference
    noisy = steady.copy()
    noisy[2] = 1_100_000  # one window 10% slower: MAD over 5 window means never sees it
    quiet, disturbed = batch_columns(record, steady), batch_columns(record, noisy)
    assert not quiet["unstable"] and quiet["latency_window_spread"] < MAX_WINDOW_SPREAD
    assert disturbed["unstable"] and disturbed["unstable_reason"] == "window_spread"
    assert disturbed["latency_window_spread"] == pytest.approx(1.1)
    assert "over the means of 5 windows of about 10000 inferences" in quiet["timing_note"]


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """An informative small model: a convolution trained on scikit-learn's 8x8 digits (1797
    images that ship with it), converted to int8; its test set and float32 reference outputs."""
    import keras
    from edgebench.convert.tflite import convert
    from edgebench.fileio import sha256_file, write_json
    from edgebench.formats import FORMATS
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    train, test = slice(0, 1500), slice(1500, 1620)
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=INPUT_SHAPE)
    features = keras.layers.Conv2D(8, 3, activation="relu")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(features))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(images[train], digits.target[train], epochs=15, batch_size=64, verbose=0)
    folder = tmp_path_factory.mktemp("digits")
    path = folder / "tflite-int8.tflite"
    path.write_bytes(convert(model, FORMATS["tflite-int8"], images[train][:200]))
    record = {"status": "ok", "reason": "", "model_file": path.name, "sha256": sha256_file(path)}
    write_json(folder / "tflite-int8.json", record)
    np.savez(folder / "dataset.npz", x_test=images[test], y_test=digits.target[test])
    np.savez(folder / "reference.npz", outputs=model.predict(images[test], verbose=0))
    return folder


def test_a_wrong_input_encoding_on_the_board_shows_as_an_accuracy_drop(
    tmp_path, digits_model, monkeypatch
):
    """The serial accuracy path checked by a model whose accuracy means something: the right
    encoding keeps the reference's top-1, the reference firmware's uint8 shift (wrong for this
    int8 tensor) loses it, and the table says so."""
    import pandas as pd
    from edgebench.metrics.accuracy import run_columns
    from edgebench.metrics.derived import add_derived
    from edgebench.testing.mcu_emulator import Emulator

    monkeypatch.chdir(tmp_path)
    dataset, reference = digits_model / "dataset.npz", digits_model / "reference.npz"
    scored = {}
    for encoding in ("tensor", "uint8"):
        with Emulator(digits_model / "tflite-int8.tflite", model_id="ic01") as board:
            status, raw_log = drive_board(
                tmp_path, digits_model / "tflite-int8.json", board.port, dataset,
                input_encoding=encoding,
            )  # fmt: skip
        assert status == "complete"
        columns = run_columns(read_run(raw_log), dataset, reference)
        scored[encoding] = add_derived(pd.DataFrame([{**columns, "status": "ok"}])).iloc[0]
    right, wrong = scored["tensor"], scored["uint8"]
    assert right["reference_top1"] > 0.8 and right["accuracy_informative"]
    assert right["accuracy_drop"] < 0.05 and right["agreement"] > 0.9
    assert wrong["accuracy_informative"] and pd.isna(wrong["accuracy_note"])
    assert wrong["accuracy_drop"] > 0.3 and wrong["agreement"] < 0.7


def test_a_reference_that_predicts_one_class_gives_a_note_and_no_drop():
    import pandas as pd
    from edgebench.metrics.accuracy import uninformative
    from edgebench.metrics.derived import add_derived

    labels = np.arange(100) % 10
    one_class = np.tile(np.eye(10)[3], (100, 1))  # seeded random weights: class 3 for all
    assert "predicts class 3 for 100 of 100 samples" in uninformative(one_class, labels)
    at_chance = np.eye(10)[(labels + 1) % 10]  # varied predictions, never right
    assert "at chance" in uninformative(at_chance, labels)
    assert uninformative(np.eye(10)[labels], labels) is None
    frame = pd.DataFrame(
        {"status": ["ok", "ok"], "accuracy_top1": [0.1, 0.9], "reference_top1": [0.1, 0.95],
         "accuracy_informative": [False, True]}
    )  # fmt: skip
    assert add_derived(frame)["accuracy_drop"].isna().tolist() == [True, False]
