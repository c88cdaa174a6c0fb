"""The serial transport: an MLPerf Tiny board (the emulator on a real pseudo-terminal) driven
through the dispatcher, its windows in the raw log, and the checks a serial profile gets."""

from __future__ import annotations

import json
import os
import pty

import pytest
from edgebench.devices.serial import profile_problems, shared_ports, window_sample, window_size
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


def test_a_serial_profile_refuses_what_its_firmware_decides():
    assert profile_problems(serial_profile()) == []
    problems = profile_problems(
        serial_profile(threads=2, formats=["tflite-int8", "onnx-fp32"], power={"source": "rapl"})
    )
    assert any(p.startswith("threads does not apply to a serial board") for p in problems)
    assert any("onnx-fp32 cannot run on MLPerf Tiny firmware" in p for p in problems)
    assert any("power source rapl runs on the board" in p for p in problems)
    local = {"name": "local", "transport": "local", "formats": [], "power": {"source": "none"}}
    assert profile_problems({**local, "windows": 3}) == [
        "windows applies to serial boards only (transport: serial)"
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
