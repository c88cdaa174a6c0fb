"""The MLPerf Tiny DUT protocol over real pseudo-terminals: the emulated board (a real int8 TFLite
model under LiteRT) on the far end, DutLink on the near end."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import serial
from edgebench.devices.tiny_protocol import (
    CLOCK_DRIFT,
    LAP_SLACK_S,
    DutError,
    DutLink,
    DutReset,
    DutTimeout,
    Window,
    lap_bounds_us,
)
from edgebench.testing.mcu_emulator import HANG_AFTER, Emulator

LARGEST_INPUT = (
    96,
    96,
    3,
)  # vww01's 96x96 RGB image: 27648 bytes, the firmware's MAX_DB_INPUT_SIZE
INPUT_BYTES = int(np.prod(LARGEST_INPUT))
NAME = "edgebench-emulator"
PROFILE = "ULPMark for tinyML Firmware V0.0.1"


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A tiny int8 model whose input is the largest MLPerf Tiny input."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    from edgebench.convert.tflite import convert
    from edgebench.formats import FORMATS

    inputs = keras.Input(shape=LARGEST_INPUT)
    features = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inputs)
    features = keras.layers.GlobalAveragePooling2D()(features)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(features))
    calibration = np.random.default_rng(0).random((8, *LARGEST_INPUT), dtype=np.float32)
    path = tmp_path_factory.mktemp("model") / "tiny-int8.tflite"
    path.write_bytes(convert(model, FORMATS["tflite-int8"], calibration))
    return path


@pytest.fixture
def board(model_file):
    """Start emulated boards; each is stopped after the test."""
    started = []

    def start(**options) -> Emulator:
        emulator = Emulator(model_file, **options)
        emulator.start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def open_link():
    """Open DutLinks with short bounds; each is closed after the test."""
    links = []

    def open_(port: str, **options) -> DutLink:
        link = DutLink(port, **{"timeout_s": 1.0, "banner_wait_s": 0.2, **options})
        links.append(link)
        return link

    yield open_
    for link in links:
        link.close()


def booted(board, **options) -> Emulator:
    emulator = board(**options)
    assert emulator.booted.wait(5)
    return emulator


def input_bytes(seed: int = 1) -> bytes:
    return np.random.default_rng(seed).integers(-128, 128, INPUT_BYTES, dtype=np.int8).tobytes()


def litert_results(model_file: Path, data: bytes) -> list[float]:
    """The model run directly with LiteRT on the same bytes, printed as the firmware prints."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_file))
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    tensor = np.frombuffer(data, dtype=source["dtype"]).reshape(source["shape"])
    interpreter.set_tensor(source["index"], tensor)
    interpreter.invoke()
    scale, zero_point = target["quantization"]
    raw = interpreter.get_tensor(target["index"]).reshape(-1).astype(np.float32)
    return [float(f"{value:.3f}") for value in (raw - zero_point) * np.float32(scale)]


@pytest.fixture
def connected(board, open_link):
    """A booted board with the largest input loaded, and its link."""
    emulator = booted(board)
    link = open_link(emulator.port)
    link.connect()
    link.load(input_bytes())
    return emulator, link


def test_connect_reads_the_boot_banner(board, open_link):
    emulator = board(boot_delay_s=0.5)
    link = open_link(emulator.port, banner_wait_s=3.0)
    assert link.connect() == {
        "name": NAME,
        "profile": PROFILE,
        "model": "ic01",
        "timestamp_mode": "performance",
        "banner": True,
    }


def test_connect_after_boot_prompts_with_name(board, open_link):
    emulator = booted(board, model_id="kws01", name="bench-7")
    started = time.monotonic()
    info = open_link(emulator.port, timeout_s=10.0).connect()
    assert info == {"name": "bench-7", "profile": PROFILE, "model": "kws01",
                    "timestamp_mode": None, "banner": False}  # fmt: skip
    # the prompt's answer, not the timeout: far less than 10 s, with room for a loaded machine
    assert time.monotonic() - started < 4.0


def test_connect_when_the_banner_comes_after_the_wait(board, open_link):
    """The prompt sent while the board boots is lost (as on the firmware); the banner then
    arrives in place of the answer, and the prompt is sent again."""
    emulator = board(boot_delay_s=0.4)
    info = open_link(emulator.port, banner_wait_s=0.1).connect()
    assert (info["name"], info["banner"]) == (NAME, True)


def test_commands_sent_while_booting_are_lost_like_the_firmware(board):
    emulator = board(boot_delay_s=0.4)
    with serial.Serial(emulator.port, 115200, timeout=1.0) as port:
        port.write(b"name%")
        lines = [port.readline() for _ in range(4)]
        port.timeout = 0.2
        assert lines[0] == b"m-timestamp-mode-performance\r\n"
        assert lines[1].startswith(b"m-lap-us-") and lines[1].endswith(b"\r\n")
        assert lines[2:] == [b"m-init-done\r\n", b"m-ready\r\n"]
        assert port.read(100) == b""


def test_largest_input_arrives_byte_exact(board, open_link):
    emulator = booted(board)
    link = open_link(emulator.port)
    data = input_bytes(seed=7)
    link.load(data)
    assert bytes(emulator.loaded) == data


def test_infer_outputs_equal_litert_on_the_same_bytes(connected, model_file):
    emulator, link = connected
    window = link.infer(5, 2, timeout_s=5.0)
    expected = litert_results(model_file, input_bytes())
    assert (window.count, window.warmup) == (5, 2)
    assert window.results == expected and len(expected) == 10
    assert link.results() == expected


def test_infer_timestamps_are_real_and_follow_the_host_clock(connected):
    _, link = connected
    window = link.infer(2000, 0, timeout_s=10.0)
    host_elapsed_us = (window.host_end_ns - window.host_start_ns) / 1000
    assert window.elapsed_us > 0 and window.host_end_ns > window.host_start_ns
    assert abs(window.elapsed_us - host_elapsed_us) < 10_000 + 0.25 * host_elapsed_us
    # The emulator's counter is this machine's monotonic clock: T1 was taken before it arrived.
    assert 0 <= (window.host_start_ns // 1000 - window.start_us) % 2**32 < 50_000


def test_elapsed_counts_across_the_32bit_counter_wrap():
    def window(start_us: int, end_us: int) -> Window:
        return Window(1, 0, start_us, end_us, [], 0, 0)

    assert window(100, 350).elapsed_us == 250
    assert window(2**32 - 100, 50).elapsed_us == 150


def test_board_error_is_a_dut_error_and_the_link_stays_in_step(board, open_link):
    link = open_link(booted(board).port)
    with pytest.raises(DutError, match=r"e-\[Unknown command: bogus\]"):
        link.command("bogus")
    assert link.command("name") == [f"m-name-dut-[{NAME}]"]


def test_load_of_another_size_than_the_input_is_refused(board, open_link):
    link = open_link(booted(board).port)
    with pytest.raises(DutError, match=f"input is {INPUT_BYTES} bytes, not 10"):
        link.load(bytes(10))


def test_over_long_command_is_refused_before_sending(board, open_link):
    link = open_link(booted(board).port)
    with pytest.raises(ValueError, match="at most 80 characters"):
        link.command("x" * 80)
    assert link.command("name") == [f"m-name-dut-[{NAME}]"]


def test_firmware_keeps_the_first_80_characters(board):
    emulator = booted(board)
    with serial.Serial(emulator.port, 115200, timeout=1.0) as port:
        port.write(b"x" * 80 + b"name%")
        assert port.readline() == b"e-[Unknown command: " + b"x" * 80 + b"]\r\n"
        assert port.readline() == b"m-ready\r\n"


def test_garbled_line_is_quoted_and_the_link_recovers(board, open_link):
    link = open_link(booted(board, misbehave={"garble"}).port, timeout_s=10.0)
    started = time.monotonic()
    with pytest.raises(DutError, match=r"garbled.*\\x") as caught:
        link.connect()
    assert time.monotonic() - started < 4.0  # at once, not after the 10 s timeout
    assert not isinstance(caught.value, DutTimeout | DutReset)
    assert link.command("name") == [f"m-name-dut-[{NAME}]"]


def test_garbled_results_are_an_error(board, open_link):
    link = open_link(booted(board, misbehave={"garble"}).port)
    with pytest.raises(DutError, match=r"garbled or unknown line b'm-r"):
        link.results()


def test_missing_ready_is_a_timeout_within_the_bound(board, open_link):
    link = open_link(booted(board, misbehave={"drop-ready"}).port, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(DutTimeout, match=r"no m-ready in time \(received \['m-name-dut"):
        link.connect()
    # the 0.5 s bound (not the link's 5 s default), with room for a loaded machine
    assert time.monotonic() - started < 3.0


def test_reset_in_the_middle_of_a_window_loses_the_input(model_file, board, open_link):
    emulator = booted(board, misbehave={"reset"})
    link = open_link(emulator.port)
    link.connect()
    link.load(input_bytes())
    started = time.monotonic()
    with pytest.raises(DutReset, match="restarted"):
        link.infer(50, 0, timeout_s=30.0)
    assert time.monotonic() - started < 10.0  # the reset was seen, not the 30 s timeout
    with pytest.raises(DutError, match=r"Input holds 0 of 27648 bytes"):
        link.infer(5, 0, timeout_s=5.0)
    link.load(input_bytes())
    assert link.infer(5, 0, timeout_s=5.0).results == litert_results(model_file, input_bytes())


def test_silent_board_is_a_timeout_naming_port_and_baud(board, open_link):
    emulator = board(misbehave={"silent"})
    link = open_link(emulator.port, timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(DutTimeout) as caught:
        link.connect()
    # the 0.3 s bound (not the link's 5 s default), with room for a loaded machine
    assert time.monotonic() - started < 3.0
    message = str(caught.value)
    assert "no boot banner" in message and emulator.port in message and "115200 baud" in message
    assert "check the baud in the profile" in message


def test_slow_link_answers_late(board, open_link):
    link = open_link(booted(board, misbehave={"slow"}).port, timeout_s=2.0)
    assert link.connect()["model"] == "ic01"
    with pytest.raises(DutTimeout):
        link.command("profile", timeout_s=0.05)


@pytest.mark.parametrize("boot_delay_s", [0.0, 0.3], ids=["after-boot", "banner-misheard"])
def test_wrong_baud_is_an_error_that_says_so(board, open_link, boot_delay_s):
    emulator = board(baud=115200, boot_delay_s=boot_delay_s)
    if not boot_delay_s:
        assert emulator.booted.wait(5)
    link = open_link(emulator.port, baud=9600, timeout_s=0.5, banner_wait_s=0.6)
    with pytest.raises(DutError, match="9600 baud.*check the baud in the profile"):
        link.connect()


def test_non_standard_baud_works_when_both_ends_agree(board, open_link):
    link = open_link(booted(board, baud=76800).port, baud=76800)
    assert link.connect()["name"] == NAME


def test_missing_port_says_so(tmp_path):
    with pytest.raises(DutError, match="no serial port .*is the board plugged in"):
        DutLink(str(tmp_path / "ttyACM9"))


def test_busy_port_names_what_may_hold_it(board, open_link):
    emulator = booted(board)
    open_link(emulator.port)
    with pytest.raises(DutError, match="is busy: is another program"):
        open_link(emulator.port)


def ready_line(process: subprocess.Popen, bound_s: float) -> str:
    """The first line the process prints, waited for up to a generous bound (its startup loads
    LiteRT and the model, slow on a loaded machine); its stderr if it exits first."""
    readable, _, _ = select.select([process.stdout], [], [], bound_s)
    if not readable:
        pytest.fail(f"no readiness line within {bound_s} s")
    line = process.stdout.readline()
    if not line:
        pytest.fail(f"exited {process.wait()} before it was ready: {process.stderr.read()}")
    return line.strip()


def test_command_line_serves_a_board_until_interrupted(model_file, tmp_path, open_link):
    link_path = tmp_path / "edgebench-mcu"
    command = [sys.executable, "-m", "edgebench.testing.mcu_emulator", "--model", str(model_file),
               "--model-id", "vww01", "--link", str(link_path)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert ready_line(process, bound_s=300) == str(link_path)
        link = open_link(str(link_path), timeout_s=60.0)
        assert link.connect()["model"] == "vww01"
        link.close()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=300) == 0
    assert not link_path.exists()


@pytest.mark.parametrize("misbehaviour", ["lap-digit", "lap-backwards"])
def test_a_lap_line_the_host_clock_contradicts_is_refused(board, open_link, misbehaviour):
    """One digit of T2 changed (70 s more, or before T1), or T2 < T1: the host got both lines
    within the window, so the board's span is impossible; the next window is taken."""
    emulator = booted(board, misbehave={misbehaviour})
    link = open_link(emulator.port)
    link.connect()
    link.load(input_bytes())
    with pytest.raises(DutError, match=r"T2 - T1 = \d+ us .* the board's span lies in") as caught:
        link.infer(20, 0, timeout_s=60.0)
    assert "a lap line was misread" in str(caught.value)
    window = link.infer(20, 0, timeout_s=60.0)
    least_us, most_us = lap_bounds_us(window, link.baud)
    assert least_us <= window.elapsed_us <= most_us
    assert window.elapsed_us <= (window.host_end_ns - window.host_start_after_ns) / 1000 + 200_000


def test_lap_bounds_follow_the_rule():
    # T1 arrived between 1.00 and 1.05 s, T2 between 11.00 and 11.05 s (host clock)
    window = Window(1, 0, 0, 0, [], 1_050_000_000, 11_050_000_000, 1_000_000_000, 11_000_000_000)
    least_us, most_us = lap_bounds_us(window, 115200)
    line_s = 21 * 10 / 115200 + LAP_SLACK_S
    assert most_us == pytest.approx((10.05 + line_s) * 1e6 * (1 + CLOCK_DRIFT))
    assert least_us == pytest.approx((9.95 - line_s) * 1e6 * (1 - CLOCK_DRIFT))
    assert most_us < 80e6  # the misread window of 80 s against 10.5 s


def test_after_a_reset_connect_takes_the_banner_it_already_read(board, open_link):
    emulator = board(misbehave={"reset"}, boot_delay_s=0.5)
    link = open_link(emulator.port, banner_wait_s=300.0)
    assert link.connect()["banner"]  # the first banner comes within the wait
    link.load(input_bytes())
    with pytest.raises(DutReset):
        link.infer(50, 0, timeout_s=60.0)
    started = time.monotonic()
    board_facts = link.connect()  # before: banner_wait_s (here 300 s) for a banner already read
    assert time.monotonic() - started < 300.0
    assert board_facts["timestamp_mode"] == "performance" and board_facts["banner"]


def test_energy_mode_firmware_is_reported_by_its_banner(board, open_link):
    emulator = board(timestamp_mode="energy", boot_delay_s=0.5)
    link = open_link(emulator.port, banner_wait_s=60.0)
    assert link.connect()["timestamp_mode"] == "energy"


def test_a_board_that_stops_answering_is_not_blamed_on_the_baud(board, open_link):
    emulator = booted(board, misbehave={"hang"})
    link = open_link(emulator.port, timeout_s=0.5)
    for _ in range(HANG_AFTER):
        assert link.command("name") == [f"m-name-dut-[{NAME}]"]
    with pytest.raises(DutTimeout) as caught:
        link.command("name")
    message = str(caught.value)
    assert f"answered {HANG_AFTER} commands on this link, then stopped answering" in message
    assert "check the baud" not in message and "power" in message and "reset" in message
