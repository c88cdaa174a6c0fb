"""Host power meters against emulators on real pseudo-terminals and a real child process."""

from __future__ import annotations

import struct
import sys
import time

import pytest
from edgebench.power.meters import (
    METERS,
    CommandMeter,
    LineMeter,
    PowerUnavailable,
    UmMeter,
    decode_um_frame,
    open_meter,
)
from edgebench.testing.meters import (
    LineMeterEmulator,
    UmEmulator,
    command_meter_argv,
    encode_um_frame,
)


def um_frame(model_id: int, volts: int, amps: int, milliwatts: int, temp_c: int = 31) -> bytes:
    """A frame written out field by field, independent of encode_um_frame."""
    head = struct.pack(">HHHIH", model_id, volts, amps, milliwatts, temp_c)
    return head + bytes(102 - len(head)) + struct.pack(">II", 1234, 5678) + bytes(130 - 110)


def run_meter(meter, seconds: float) -> tuple[list[dict], int, int]:
    samples = []
    began = time.time_ns()
    meter.start(samples.append)
    time.sleep(seconds)
    meter.stop()
    return samples, began, time.time_ns()


@pytest.mark.parametrize(
    ("model", "model_id", "volts", "amps"),
    [
        ("um24c", 0x0963, 5.12, 0.345),  # 512 x 0.01 V, 345 x 0.001 A
        ("um25c", 0x09C9, 0.512, 0.0345),  # the same raw values, 10x finer on the UM25C
        ("um34c", 0x0D4C, 5.12, 0.345),
    ],
)
def test_decode_um_frame_scales_per_model(model, model_id, volts, amps):
    reading = decode_um_frame(um_frame(model_id, 512, 345, 1766), model)
    assert reading["model"] == model
    assert reading["volts"] == pytest.approx(volts)
    assert reading["amps"] == pytest.approx(amps)
    assert reading["watts"] == pytest.approx(1.766)
    assert (reading["temp_c"], reading["mah"], reading["mwh"]) == (31, 1234, 5678)


def test_encode_um_frame_round_trips():
    frame = encode_um_frame("um25c", 5.034, 0.4567, 2.299, temp_c=28, mah=12, mwh=60)
    assert frame[:2] == b"\x09\xc9"
    assert decode_um_frame(frame) == pytest.approx(
        {"model": "um25c", "volts": 5.034, "amps": 0.4567, "watts": 2.299}
        | {"temp_c": 28, "mah": 12, "mwh": 60}
    )


def test_decode_um_frame_refuses_wrong_length_and_model():
    with pytest.raises(ValueError, match="129 bytes, expected 130"):
        decode_um_frame(bytes(129))
    with pytest.raises(ValueError, match=r"0x0963 \(um24c\), expected um25c \(0x09c9\)"):
        decode_um_frame(um_frame(0x0963, 500, 100, 500), "um25c")
    with pytest.raises(ValueError, match="0x1234 \\(unknown\\)"):
        decode_um_frame(um_frame(0x1234, 500, 100, 500))


def test_um_meter_polls_the_emulated_meter():
    with UmEmulator(model="um25c", refresh_s=0.5, power=lambda t: 1.5 + t) as emulator:
        meter = open_meter({"source": "um25c", "port": emulator.port})
        meter.check()
        samples, began, ended = run_meter(meter, 1.6)
    assert isinstance(meter, UmMeter) and meter.error is None
    assert 3 <= len(samples) <= 4
    times = [sample["t_ns"] for sample in samples]
    assert times == sorted(times) and began <= times[0] and times[-1] <= ended
    emulated = [reading["watts"] for reading in emulator.readings]
    for sample in samples:
        assert min(abs(sample["watts"] - watts) for watts in emulated) < 1e-3
        assert sample["volts"] == pytest.approx(5.0)
    assert len({sample["watts"] for sample in samples}) >= 3
    assert meter.describe() == {
        "source": "um25c",
        "clock": "host-wall",
        "kind": "power",
        "interval_s": 0.5,
        "model": "UM25C",
        "port": emulator.port,
        "baud": 9600,
    }


def test_um_meter_refuses_fast_polls_and_a_missing_port():
    with pytest.raises(ValueError, match="interval_ms below 500"):
        UmMeter({"source": "um24c", "port": "/dev/rfcomm0", "interval_ms": 100})
    with pytest.raises(PowerUnavailable, match="/dev/rfcomm-missing does not exist"):
        UmMeter({"source": "um24c", "port": "/dev/rfcomm-missing"}).check()


def test_um_meter_gives_up_after_three_timeouts():
    with UmEmulator(model="um24c") as emulator:
        meter = UmMeter({"source": "um24c", "port": emulator.port})
        meter.read_timeout_s = 0.1  # no 3 s wait in a test
        samples = []
        meter.start(samples.append)
        time.sleep(0.7)
        emulator.silent = True
        time.sleep(2.0)
        answered = emulator.requests
        time.sleep(0.6)
        meter.stop()
    assert 1 <= len(samples) <= 2
    assert meter.timeouts == 3 and emulator.requests == answered  # no polls after giving up
    assert "3 polls in a row timed out" in meter.error


def test_line_meter_maps_the_board_clock_to_host_wall_time():
    with LineMeterEmulator(interval_s=0.01, amps=lambda t: 0.4) as emulator:
        meter = open_meter({"source": "serial-meter", "port": emulator.port})
        samples = []
        meter.start(samples.append)
        time.sleep(0.25)
        emulator.inject("garbage\r\n12,abc,0.1\r\n")
        time.sleep(0.25)
        assert samples == []  # held back until the offset is final
        meter.stop()
    assert isinstance(meter, LineMeter) and meter.error is None
    assert 40 <= len(samples) <= 55
    assert meter.malformed == 2
    sent_at = {line["meter_ms"]: line["host_ns"] for line in emulator.lines}
    for sample in samples:
        assert sample["watts"] == pytest.approx(2.0)
        meter_ms = round((sample["t_ns"] - meter.offset_ns) / 1e6)
        assert abs(sample["t_ns"] - sent_at[meter_ms]) < 50e6
    header = meter.describe()
    assert header["offset_uncertainty_ns"] >= 0 and header["malformed_lines"] == 2
    assert header["interval_s"] == pytest.approx(0.01, abs=0.002)


def test_command_meter_reads_a_program_and_ends_it():
    meter = open_meter(
        {"source": "command", "command": command_meter_argv(watts=3.25), "interval_ms": 50}
    )
    meter.check()
    samples, began, ended = run_meter(meter, 0.5)
    assert isinstance(meter, CommandMeter) and meter.error is None
    assert 5 <= len(samples) <= 12
    assert all(sample["watts"] == 3.25 for sample in samples)
    assert all(began <= sample["t_ns"] <= ended for sample in samples)
    assert meter._process.returncode is not None  # ended and reaped
    assert meter.describe()["interval_s"] == 0.05  # as declared
    meter.stop()  # idempotent


def test_command_meter_refuses_a_missing_program():
    meter = CommandMeter({"source": "command", "command": ["edgebench-no-such-meter", "-x"]})
    with pytest.raises(PowerUnavailable, match="'edgebench-no-such-meter' is not on PATH"):
        meter.check()
    with pytest.raises(ValueError, match="list of argv strings"):
        CommandMeter({"source": "command", "command": "my-meter --port /dev/ttyACM0"})


def test_command_meter_reports_a_program_that_exits_early():
    code = "import sys; sys.stderr.write('no meter on /dev/ttyACM0\\n'); sys.exit(3)"
    meter = CommandMeter({"source": "command", "command": [sys.executable, "-c", code]})
    samples, _, _ = run_meter(meter, 0.5)
    assert samples == []
    assert "exited with status 3 before stop" in meter.error
    assert "no meter on /dev/ttyACM0" in meter.error


def test_every_source_has_a_meter():
    assert set(METERS) == {"um24c", "um25c", "um34c", "serial-meter", "command"}
    with pytest.raises(ValueError, match="not a host meter"):
        open_meter({"source": "tegrastats"})
