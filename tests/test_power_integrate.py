"""Power logs integrated over the timed windows: known power profiles (constant, step, ramp) to
0.1%, energy counters, too few samples, a failed source, and a host meter's samples placed on
the device's clock with the run's anchors."""

from __future__ import annotations

import numpy as np
import pytest
from edgebench.agent.powerlog import METER_LOG, POWER_LOG, PowerLog
from edgebench.power import lengthened, power_settings
from edgebench.power.integrate import (
    PowerTrace,
    batch_power,
    host_to_device,
    integrate,
    load_trace,
    window_energy,
)

S = 1_000_000_000


def trace(t_s, values, kind="power", marks=(), end=None) -> PowerTrace:
    t = np.round(np.asarray(t_s, dtype=np.float64) * S).astype(np.int64)
    header = {"source": "test", "kind": kind}
    return PowerTrace(header, t, np.asarray(values, dtype=float), [], list(marks), end or {})


PROFILES = {  # watts at time t (s); the exact energy between 1 s and 3 s
    "constant": (lambda t: np.full_like(t, 4.0), 8.0),
    "step": (lambda t: np.where(t < 2.0, 2.0, 6.0), 8.0),
    "ramp": (lambda t: 1.0 + t, 2.0 * 1.0 + (9 - 1) / 2),
}


@pytest.mark.parametrize("name", PROFILES)
def test_known_power_profiles_integrate_to_within_a_tenth_of_a_percent(name):
    power, exact = PROFILES[name]
    t = np.arange(0.0, 4.0 + 1e-9, 0.001)  # 1 kHz, like a directly read INA3221
    figure = integrate(trace(t, power(t)), 1 * S, 3 * S, min_samples=10)
    assert figure.energy_j == pytest.approx(exact, rel=1e-3)
    assert figure.watts == pytest.approx(exact / 2, rel=1e-3)


def test_window_edges_are_interpolated_between_samples():
    t = np.array([0.0, 1.0, 2.0, 3.0])
    watts = np.array([0.0, 1.0, 2.0, 3.0])  # a ramp: exact between any two times
    assert window_energy(t * S, watts, 0.5 * S, 2.5 * S, "power") == pytest.approx(3.0)


def test_an_energy_counter_is_differenced_at_the_window_edges():
    t = np.arange(0.0, 5.0, 0.1)
    joules = 3.0 * t  # 3 W
    figure = integrate(trace(t, joules, kind="energy"), 1 * S, 4 * S, min_samples=10)
    assert figure.energy_j == pytest.approx(9.0) and figure.watts == pytest.approx(3.0)


def test_too_few_samples_or_a_window_not_covered_give_no_figure_and_say_why():
    t = np.arange(0.0, 4.0, 0.5)  # a UM meter's 2 Hz
    sparse = integrate(trace(t, np.ones_like(t)), 1 * S, 2 * S, min_samples=10)
    assert sparse.energy_j is None and "3 test sample(s) in a 1 s window" in sparse.reason
    assert "min_samples (10)" in sparse.reason
    dense = np.arange(1.5, 4.0, 0.01)
    uncovered = integrate(trace(dense, np.ones_like(dense)), 1 * S, 2 * S, min_samples=10)
    assert uncovered.energy_j is None and "do not cover" in uncovered.reason


def marks(*spans):
    out = [
        {"name": "idle", "edge": e, "t_ns": int(t * S)}
        for e, t in zip("start end".split(), spans[0], strict=True)
    ]  # noqa: E501
    for batch, process, (start, end) in spans[1:]:
        out += [
            {
                "name": "window",
                "edge": "start",
                "t_ns": int(start * S),
                "batch": batch,
                "process": process,
            },  # noqa: E501
            {
                "name": "window",
                "edge": "end",
                "t_ns": int(end * S),
                "batch": batch,
                "process": process,
            },  # noqa: E501
        ]
    return out


def test_batch_figures_pool_the_processes_windows_and_report_idle():
    t = np.arange(0.0, 10.0, 0.01)
    watts = np.where(t < 2.0, 1.0, 3.0)  # idle at 1 W, then 3 W
    spans = marks((0.5, 1.5), (1, 0, (2.5, 3.5)), (1, 1, (4.0, 6.0)), (2, 0, (7.0, 8.0)))
    figures = batch_power(trace(t, watts, marks=spans), min_samples=10)
    assert figures[1]["power_w"] == pytest.approx(3.0) and figures[2]["power_w"] == pytest.approx(
        3.0
    )
    assert figures[1]["power_energy_j"] == pytest.approx(9.0)  # 3 s at 3 W over two windows
    assert figures[1]["idle_power_w"] == pytest.approx(1.0)
    assert figures[1]["power_samples"] == pytest.approx(301, abs=2)


def test_a_failed_source_leaves_every_batch_empty_with_its_reason():
    spans = marks((0.5, 1.5), (1, 0, (2.5, 3.5)))
    failed = trace([0.0, 1.0], [1.0, 1.0], marks=spans, end={"status": "failed", "reason": "gone"})
    assert batch_power(failed) == {1: {"power_note": "power source test failed: gone"}}


def test_a_sample_without_a_total_gives_the_sources_reason():
    lost = trace(np.arange(0.0, 5.0, 0.1), np.full(50, np.nan), marks=marks((0, 1), (1, 0, (2, 3))))
    lost.reasons = ["no total input rail (VDD_IN or POM_5V_IN) on this board"]
    assert "no total input rail" in batch_power(lost)[1]["power_note"]


def test_host_wall_clock_samples_land_on_the_device_timeline():
    header = {
        "wall_clock": {"time_ns": 1_000 * S, "monotonic_ns": 50 * S, "uncertainty_ns": 2_000},
        "host_clock": {"offset_ns": 3 * S, "round_trip_ns": 4_000_000},  # device 3 s ahead
    }
    end = {"wall_clock": {"time_ns": 1_100 * S, "monotonic_ns": 150 * S, "uncertainty_ns": 1_000}}
    convert, uncertainty = host_to_device(header, end)
    # host 1 010 s is device wall 1 013 s, 13 s after the first anchor
    assert convert(np.array([1_010 * S]))[0] == 63 * S
    assert uncertainty == 2_000_000 + 2_000


def test_a_host_meter_log_is_read_beside_the_agents_marks(tmp_path):
    header = {"wall_clock": {"time_ns": 1_000 * S, "monotonic_ns": 0, "uncertainty_ns": 0}}
    agent = PowerLog(tmp_path / POWER_LOG, {"source": "command", "clock": "device-monotonic"})
    for mark in marks((1.0, 2.0), (1, 0, (3.0, 5.0))):
        agent.write({"type": "mark", **mark})
    agent.end()
    meter = PowerLog(tmp_path / METER_LOG, {"source": "command", "clock": "host-wall"})
    for t in np.arange(0.0, 7.0, 0.05):
        meter.sample({"t_ns": int((1_000 + t) * S), "watts": 2.0 if t < 2.5 else 5.0})
    meter.end()
    loaded = load_trace(tmp_path, header, {})
    assert loaded.source == "command" and loaded.t_ns[0] == 0
    figures = batch_power(loaded)
    assert figures[1]["power_w"] == pytest.approx(5.0) and figures[1]["idle_power_w"] == 2.0
    assert figures[1]["power_clock_uncertainty_ms"] == 0.0  # one machine, exact anchors


def test_a_power_source_lengthens_the_timed_window_to_hold_its_samples():
    settings = power_settings({"source": "um25c", "port": "/dev/rfcomm0"})
    assert settings["interval_ms"] == 500 and settings["min_samples"] == 10
    timing = lengthened({"min_s": 1.0, "max_s": 3.0, "max_runs": 10_000}, settings)
    # 11 intervals: 10 samples and the edges; max_runs stays (the agent holds the window open)
    assert timing == {"min_s": 5.5, "max_s": 5.5, "max_runs": 10_000}
    assert lengthened({"min_s": 8.0, "max_s": 9.0}, settings)["min_s"] == 8.0
    assert power_settings({"source": "none"}) is None


def test_the_idle_window_is_lengthened_like_the_timed_ones():
    """A UM meter (2 Hz) with idle_s: 2 gave an empty idle figure: 4 samples in the window.
    The idle window now holds min_samples samples plus one interval, as a timed window does."""
    settings = power_settings({"source": "um25c", "port": "/dev/rfcomm0", "idle_s": 2})
    assert settings["idle_s"] == 5.5  # (10 + 1) x 0.5 s
    assert power_settings({"source": "um25c", "port": "/dev/rfcomm0", "idle_s": 0})["idle_s"] == 0
    assert power_settings({"source": "rapl", "idle_s": 8})["idle_s"] == 8  # already enough
    t = np.arange(0.0, 14.0, 0.5) + 0.17  # the meter's refreshes, in no phase with the marks
    spans = marks((1.0, 1.0 + settings["idle_s"]), (1, 0, (7.0, 7.0 + 5.5)))
    figures = batch_power(trace(t, np.full_like(t, 1.5), marks=spans), min_samples=10)
    assert figures[1]["idle_power_w"] == pytest.approx(1.5), figures[1].get("power_note")
    short = marks((1.0, 3.0), (1, 0, (7.0, 12.0)))
    assert "idle_power_w" not in batch_power(trace(t, np.full_like(t, 1.5), marks=short))[1]
