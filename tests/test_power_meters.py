"""Host power meters against emulators on real pseudo-terminals and a real child process."""

from __future__ import annotations

import struct
import sys
import time

import numpy as np
import pytest
from edgebench.agent.powerlog import METER_LOG, POWER_LOG, PowerLog
from edgebench.power import SOURCES
from edgebench.power.integrate import batch_power, load_trace, window_energy
from edgebench.power.meters import PowerUnavailable, open_meter
from edgebench.power.meters.command import CommandMeter
from edgebench.power.meters.line import LineMeter
from edgebench.power.meters.um import UM_FRAME_BYTES, Um24c, UmMeter, decode_um_frame
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


def wait_for(condition, what: str, bound_s: float = 120.0) -> None:
    """Wait on a readiness signal (never on the machine's speed), failing after a generous bound."""
    deadline = time.monotonic() + bound_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {bound_s:.0f} s"
        time.sleep(0.02)


def test_um_meter_keeps_one_sample_per_refresh_stamped_at_the_refresh():
    """The emulated UM25C refreshes at 2 Hz on a ramp, each frame sent at 9600 baud. Stamped at
    poll time a sample was 0.17-0.60 s older than its stamp and a repeated frame counted twice
    (energy -2.8% to +1.2%, several % here); now each refresh is one sample, placed at the
    refresh within the uncertainty the meter reports, and the energy matches the truth."""
    with UmEmulator(model="um25c", refresh_s=0.5, power=lambda t: 1.0 + 0.8 * t) as emulator:
        meter = open_meter({"source": "um25c", "port": emulator.port})
        meter.check()
        samples = []
        meter.start(samples.append)
        wait_for(lambda: len(samples) >= 12, "12 refreshes")
        meter.stop()
    assert isinstance(meter, UmMeter) and meter.error is None
    refreshes = {reading["t_ns"]: reading["watts"] for reading in emulator.readings}
    matched = []
    for sample, cost in zip(samples, meter.stamp_costs_ns, strict=True):
        refresh = min(refreshes, key=lambda t: abs(t - sample["t_ns"]))
        assert sample["watts"] == pytest.approx(refreshes[refresh], abs=1e-3)
        assert abs(sample["t_ns"] - refresh) <= cost  # within its stated placement cost
        matched.append(refresh)
    assert len(set(matched)) == len(matched)  # no refresh counted twice
    between = [t for t in refreshes if matched[0] <= t <= matched[-1]]
    assert len(matched) >= 0.9 * len(between)
    t = np.array([sample["t_ns"] for sample in samples], dtype=np.float64)
    watts = np.array([sample["watts"] for sample in samples])
    start, end = int(t[1]), int(t[-2])
    measured = window_energy(t, watts, start, end, "power")
    assert measured == pytest.approx(emulator.energy_j(start, end), rel=0.01)
    header = meter.describe()
    assert header["interval_s"] == 0.5 and header["poll_s"] < header["interval_s"]
    assert header["model"] == "UM25C" and header["baud"] == 9600
    # half a poll gap plus a 135 ms read at 9600 baud: far from the microsecond claimed before
    assert header["stamp_uncertainty_ns"] >= UM_FRAME_BYTES * 10 / 9600 * 1e9


def test_um_meter_refuses_fast_polls_and_a_missing_port():
    with pytest.raises(ValueError, match="interval_ms below 500"):
        Um24c({"source": "um24c", "port": "/dev/rfcomm0", "interval_ms": 100})
    with pytest.raises(PowerUnavailable, match="/dev/rfcomm-missing does not exist"):
        Um24c({"source": "um24c", "port": "/dev/rfcomm-missing"}).check()


def test_a_flaky_link_loses_only_its_samples_and_the_row_says_so(tmp_path):
    """Three timeouts in a row used to discard the run's power. Now the meter polls on, the
    gap is recorded in the meter log, and the batch keeps its figure with a note."""
    with UmEmulator(model="um24c", power=lambda t: 2.0 + 0.1 * t) as emulator:
        meter = Um24c({"source": "um24c", "port": emulator.port})
        meter.read_timeout_s = 0.2  # a lost poll costs 0.2 s in this test, not 1 s
        log = PowerLog(tmp_path / METER_LOG, meter.describe())
        samples = []

        def keep(sample):
            samples.append(sample)
            log.sample(sample)

        began = time.time_ns()
        meter.start(keep)
        wait_for(lambda: len(samples) >= 4, "4 refreshes before the link fails")
        emulator.silent = True
        silenced = emulator.requests
        wait_for(lambda: meter.timeouts >= 4, "4 unanswered polls")
        emulator.silent = False
        after = len(samples)
        wait_for(lambda: len(samples) >= after + 4, "4 refreshes after the link came back")
        meter.stop()
        ended = time.time_ns()
    assert meter.error is None and emulator.requests > silenced + 4  # polled on through it
    (gap,) = meter.describe()["gaps"]
    assert gap["polls"] >= 4 and gap["from_ns"] < gap["to_ns"]
    assert not any(gap["from_ns"] < s["t_ns"] < gap["to_ns"] - 1e9 for s in samples)
    log.end("ok", "", final=meter.describe())
    agent = PowerLog(tmp_path / POWER_LOG, {"source": "um24c", "clock": "device-monotonic"})
    for edge, t_ns in (("start", samples[1]["t_ns"]), ("end", samples[-2]["t_ns"])):
        agent.mark("window", edge, t_ns, batch=1, process=0)
    agent.end()
    anchor = {"time_ns": began, "monotonic_ns": began, "uncertainty_ns": 0}
    trace = load_trace(tmp_path, {"wall_clock": anchor}, {"wall_clock": {**anchor}})
    (row,) = batch_power(trace, min_samples=4).values()
    assert row["power_w"] == pytest.approx(2.0 + 0.1 * (ended - began) / 2e9, rel=0.2)
    assert f"missed {gap['polls']} poll(s)" in row["power_note"]
    assert row["power_clock_uncertainty_ms"] == meter.stamp_uncertainty_ns() / 1e6 > 100


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
    assert set(SOURCES.host_meters()) == {"um24c", "um25c", "um34c", "serial-meter", "command"}
    with pytest.raises(ValueError, match="not a host meter"):
        open_meter({"source": "tegrastats"})
