"""The agent's on-board power sources: tegrastats lines, INA3221 and RAPL sysfs trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from edgebench.agent import power_common
from edgebench.agent.power_sources import ON_BOARD, PowerUnavailable, open_source
from edgebench.agent.power_sources.tegrastats import parse_tegrastats

EMULATOR = Path(__file__).with_name("tegrastats_emulator.py")

ORIN_NX = (
    "11-23-2026 10:00:01 RAM 2448/7620MB (lfb 1x4MB) SWAP 0/3810MB (cached 0MB) "
    "CPU [2%@729,1%@729,0%@729,0%@729,off,off] EMC_FREQ 0% GR3D_FREQ 0% cpu@47.5C "
    "soc2@46.2C soc0@46.5C gpu@46.9C tj@47.5C soc1@46.2C "
    "VDD_IN 4654mW/4654mW VDD_CPU_GPU_CV 491mW/491mW VDD_SOC 1350mW/1350mW"
)
NANO = (
    "RAM 1500/3956MB (lfb 100x4MB) SWAP 0/1978MB (cached 0MB) IRAM 0/252kB(lfb 252kB) "
    "CPU [11%@1479,2%@1479,3%@1479,1%@1479] EMC_FREQ 0%@1600 GR3D_FREQ 0%@76 APE 25 "
    "PLL@31C CPU@33.5C PMIC@100C GPU@31.5C AO@40C thermal@32.25C "
    "POM_5V_IN 900/943 POM_5V_GPU 0/0 POM_5V_CPU 123/155"
)
TX2 = (
    "RAM 1000/7854MB (lfb 1200x4MB) SWAP 0/3927MB (cached 0MB) CPU [1%@345,off,off,1%@345,"
    "0%@345,0%@345] EMC_FREQ 0%@1866 GR3D_FREQ 0%@114 APE 150 PLL@37C MCPU@37C PMIC@100C "
    "Tboard@33C GPU@35C BCPU@37C thermal@36.3C Tdiode@34.5C VDD_IN 2003/2658 "
    "VDD_SYS_CPU 153/230 VDD_SYS_GPU 153/153 VDD_SYS_SOC 613/613 VDD_4V0_WIFI 0/0 "
    "VDD_SYS_DDR 427/489"
)
AGX_XAVIER = (
    "RAM 3000/15692MB (lfb 3000x4MB) SWAP 0/7846MB (cached 0MB) CPU [1%@1190,0%@1190,"
    "0%@1190,0%@1190,off,off,off,off] EMC_FREQ 0%@2133 GR3D_FREQ 0%@1377 APE 150 "
    "MTS fg 0% bg 0% AO@32C GPU@32.5C Tdiode@35C PMIC@100C AUX@31.5C CPU@33.5C "
    "thermal@32.35C Tboard@32C GPU 0/0 CPU 216/216 SOC 864/864 CV 0/0 VDDRQ 432/432 "
    "SYS5V 1889/1889"
)
AGX_ORIN = (
    "11-23-2026 10:00:01 RAM 5000/30536MB (lfb 6000x4MB) SWAP 0/15268MB (cached 0MB) "
    "CPU [0%@2201,0%@2201,0%@2201,0%@2201,0%@2201,0%@2201,0%@2201,0%@2201] EMC_FREQ 0%@3199 "
    "GR3D_FREQ 0%@[1300,1300] cpu@45C soc2@42C soc0@43C gpu@41C tj@45C soc1@42C "
    "VDD_GPU_SOC 2771mW/2771mW VDD_CPU_CV 791mW/791mW VIN_SYS_5V0 3228mW/3228mW "
    "NC 0mW/0mW VDDQ_VDD2_1V8AO 503mW/503mW"
)


# --- tegrastats lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, rails",
    [
        (ORIN_NX, {"VDD_IN": 4.654, "VDD_CPU_GPU_CV": 0.491, "VDD_SOC": 1.35}),
        (NANO, {"POM_5V_IN": 0.9, "POM_5V_GPU": 0.0, "POM_5V_CPU": 0.123}),
        (
            TX2,
            {
                "VDD_IN": 2.003,
                "VDD_SYS_CPU": 0.153,
                "VDD_SYS_GPU": 0.153,
                "VDD_SYS_SOC": 0.613,
                "VDD_4V0_WIFI": 0.0,
                "VDD_SYS_DDR": 0.427,
            },
        ),
        (
            AGX_XAVIER,
            {"GPU": 0.0, "CPU": 0.216, "SOC": 0.864, "CV": 0.0, "VDDRQ": 0.432, "SYS5V": 1.889},
        ),
        (
            AGX_ORIN,
            {
                "VDD_GPU_SOC": 2.771,
                "VDD_CPU_CV": 0.791,
                "VIN_SYS_5V0": 3.228,
                "VDDQ_VDD2_1V8AO": 0.503,
            },
        ),
    ],
    ids=["orin-nx", "nano", "tx2", "agx-xavier", "agx-orin"],
)
def test_tegrastats_lines_give_each_rails_instantaneous_watts(line, rails):
    assert parse_tegrastats(line) == pytest.approx(rails)


@pytest.mark.parametrize(
    "line, rails",
    [
        (ORIN_NX.split("VDD_IN")[0] + "VDD_IN 46", {}),
        (ORIN_NX.split("VDD_SOC")[0] + "VDD_SOC 1350m", {"VDD_IN": 4.654, "VDD_CPU_GPU_CV": 0.491}),
        (ORIN_NX.split("VDD_SOC")[0] + "VDD_SO", {"VDD_IN": 4.654, "VDD_CPU_GPU_CV": 0.491}),
        ("", {}),
        ("garbage / 12/ /34 VDD_IN mW/mW %@ 1/2/3 [", {}),
        ("RAM 2448/7620MB SWAP 0/3810MB IRAM 0/252kB GR3D_FREQ 0%@76 APE 25 cpu@47.5C", {}),
    ],
    ids=["cut-in-value", "cut-in-unit", "cut-in-name", "empty", "garbage", "no-rails"],
)
def test_malformed_tegrastats_lines_give_what_parses_cleanly(line, rails):
    assert parse_tegrastats(line) == pytest.approx(rails)


# --- the total input power -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, watts",
    [(ORIN_NX, 4.654), (NANO, 0.9), (TX2, 2.003), (AGX_XAVIER, 0.216 + 0.864 + 0.432 + 1.889)],
    ids=["orin-nx: VDD_IN", "nano: POM_5V_IN alone", "tx2: VDD_IN", "agx-xavier: the sum"],
)
def test_total_is_the_input_rail_or_xaviers_sum(line, watts):
    sample = power_common.power_sample(1, parse_tegrastats(line), None)
    assert sample["watts"] == pytest.approx(watts)
    assert "reason" not in sample
    assert sample["rails"] == parse_tegrastats(line)


def test_agx_orin_has_no_total_without_profile_rails():
    sample = power_common.power_sample(1, parse_tegrastats(AGX_ORIN), None)
    assert sample["watts"] is None
    assert "no total input rail" in sample["reason"] and "power.rails" in sample["reason"]
    assert sample["rails"]["VIN_SYS_5V0"] == pytest.approx(3.228)


def test_profile_rails_override_the_rule_and_must_all_be_present():
    rails = parse_tegrastats(AGX_ORIN)
    chosen = ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"]
    assert power_common.power_sample(1, rails, chosen)["watts"] == pytest.approx(6.79)
    nano = parse_tegrastats(NANO)
    assert power_common.power_sample(1, nano, ["POM_5V_GPU", "POM_5V_CPU"])["watts"] == 0.123
    missing = power_common.power_sample(1, rails, ["VDD_IN"])
    assert missing["watts"] is None and "VDD_IN" in missing["reason"]


# --- tegrastats, the program -----------------------------------------------------------------


@pytest.fixture
def tegrastats_on_path(tmp_path, monkeypatch) -> Path:
    """A `tegrastats` on PATH that runs the emulator, its pid file under tmp_path."""
    folder = tmp_path / "bin"
    folder.mkdir()
    wrapper = folder / "tegrastats"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{EMULATOR}" "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TEGRASTATS_EMULATOR_PIDFILE", str(tmp_path / "tegrastats.pid"))
    return wrapper


def test_tegrastats_samples_every_line_and_stops_the_process_it_started(tegrastats_on_path):
    source = open_source({"source": "tegrastats", "interval_ms": 50})
    source.check()
    header = source.describe()
    assert header["kind"] == "power" and header["interval_s"] == 0.05
    samples = []
    source.start(samples.append)
    deadline = time.monotonic() + 5
    while not samples and time.monotonic() < deadline:  # the interpreter's start-up
        time.sleep(0.01)
    time.sleep(0.5)
    source.stop()
    source.stop()  # idempotent
    assert 6 <= len(samples) <= 12, len(samples)
    assert all(s["watts"] == s["rails"]["VDD_IN"] for s in samples)
    assert {round(s["watts"] * 1000) for s in samples} <= set(range(4000, 5000, 100))
    assert len({s["watts"] for s in samples}) > 1
    times = [s["t_ns"] for s in samples]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert source.process.poll() is not None  # the process we started has exited
    assert source.error is None


def test_tegrastats_that_dies_leaves_an_error(tegrastats_on_path, tmp_path):
    source = open_source({"source": "tegrastats", "interval_ms": 50})
    source.check()
    samples = []
    source.start(samples.append)
    pid_file = tmp_path / "tegrastats.pid"
    deadline = time.monotonic() + 5
    while not (samples and pid_file.exists()) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(int(pid_file.read_text()), 9)
    source.thread.join(timeout=5)
    source.stop()
    assert source.error and "exited" in source.error


def test_tegrastats_stop_option_stops_the_emulator(tegrastats_on_path, tmp_path):
    import subprocess

    running = subprocess.Popen([tegrastats_on_path, "--interval", "50"], stdout=subprocess.DEVNULL)
    pid_file = tmp_path / "tegrastats.pid"
    deadline = time.monotonic() + 5
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    subprocess.run([tegrastats_on_path, "--stop"], check=True)
    assert running.wait(timeout=5) == 0
    assert not pid_file.exists()


def test_tegrastats_missing_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PowerUnavailable, match="tegrastats is not on PATH"):
        open_source({"source": "tegrastats"}).check()
    with pytest.raises(PowerUnavailable, match="not on PATH"):
        open_source({"source": "tegrastats", "command": str(tmp_path / "nowhere")}).check()


def test_unknown_source_is_unavailable():
    with pytest.raises(PowerUnavailable, match="um25c"):
        open_source({"source": "um25c"})
    assert set(ON_BOARD.names()) == {"tegrastats", "ina3221", "rapl"}


# --- INA3221 ---------------------------------------------------------------------------------


def write_files(folder: Path, files: dict[str, object]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        (folder / name).write_text(f"{value}\n")


def jetpack4_tree(root: Path) -> None:
    """A Nano's monitor as JetPack 4 lays it out (iio, power in mW)."""
    write_files(
        root / "bus/i2c/drivers/ina3221x/6-0040/iio:device0",
        {
            "rail_name_0": "POM_5V_IN",
            "in_power0_input": 2500,
            "rail_name_1": "POM_5V_GPU",
            "in_power1_input": 800,
            "rail_name_2": "POM_5V_CPU",
            "in_power2_input": 600,
        },
    )


def jetpack6_tree(root: Path) -> None:
    """An Orin Nano's monitor as JetPack 5/6 lays it out (hwmon, mV and mA), with an NC rail
    and the sum-of-shunts channel."""
    write_files(
        root / "bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3",
        {
            "name": "ina3221",
            "in1_label": "VDD_IN",
            "in1_input": 5000,
            "curr1_input": 1000,
            "in2_label": "VDD_CPU_GPU_CV",
            "in2_input": 5000,
            "curr2_input": 200,
            "in3_label": "NC",
            "in3_input": 0,
            "curr3_input": 0,
            "in7_label": "Sum of shunt voltages",
            "in7_input": 40,
        },
    )


def sample_for(source, seconds: float) -> list[dict]:
    samples = []
    source.check()
    source.start(samples.append)
    time.sleep(seconds)
    source.stop()
    source.stop()
    return samples


def test_ina3221_jetpack4_iio(tmp_path):
    jetpack4_tree(tmp_path)
    source = open_source({"source": "ina3221", "root": str(tmp_path)})
    header = source.describe()
    assert header["rails"] == ["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"]
    assert header["total"] == ["POM_5V_IN"] and header["interval_s"] == 0.02
    samples = sample_for(source, 0.2)
    assert 5 <= len(samples) <= 15
    assert all(s["watts"] == 2.5 for s in samples)
    assert samples[0]["rails"] == {"POM_5V_IN": 2.5, "POM_5V_GPU": 0.8, "POM_5V_CPU": 0.6}


def test_ina3221_jetpack6_hwmon_skips_nc_and_the_sum_of_shunts(tmp_path):
    jetpack6_tree(tmp_path)
    source = open_source({"source": "ina3221", "root": str(tmp_path), "interval_ms": 20})
    assert source.describe()["rails"] == ["VDD_IN", "VDD_CPU_GPU_CV"]
    samples = sample_for(source, 0.2)
    assert 5 <= len(samples) <= 15
    assert samples[0]["rails"] == pytest.approx({"VDD_IN": 5.0, "VDD_CPU_GPU_CV": 1.0})
    assert all(s["watts"] == pytest.approx(5.0) for s in samples)
    times = [s["t_ns"] for s in samples]
    assert times == sorted(times)


def test_ina3221_profile_rails_and_a_failing_read(tmp_path):
    jetpack6_tree(tmp_path)
    options = {"source": "ina3221", "root": str(tmp_path), "rails": ["VDD_CPU_GPU_CV"]}
    source = open_source(options)
    source.check()
    assert source.read_once()["watts"] == pytest.approx(1.0)
    (tmp_path / "bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/curr1_input").unlink()
    sample = source.read_once()
    assert sample["watts"] is None and "VDD_IN" in sample["reason"]
    assert sample["rails"] == pytest.approx({"VDD_CPU_GPU_CV": 1.0})


def test_ina3221_missing_is_unavailable(tmp_path):
    with pytest.raises(PowerUnavailable, match="no INA3221"):
        open_source({"source": "ina3221", "root": str(tmp_path)}).check()


# --- RAPL ------------------------------------------------------------------------------------

RANGE_UJ = 262143328850


def rapl_tree(root: Path) -> Path:
    """A two-package machine: package-N with core sub-domains, a dram on package 0."""
    powercap = root / "class/powercap"
    zones = {
        "intel-rapl:0": ("package-0", 1000),
        "intel-rapl:0:0": ("core", 500),
        "intel-rapl:0:1": ("dram", 100),
        "intel-rapl:1": ("package-1", 2000),
        "intel-rapl:1:0": ("core", 700),
    }
    for folder, (name, energy) in zones.items():
        write_files(
            powercap / folder,
            {"name": name, "energy_uj": energy, "max_energy_range_uj": RANGE_UJ},
        )
    return powercap


def set_counter(path: Path, value: int) -> None:
    """Replaced whole, so a reader never sees a half-written file."""
    partial = path.with_name(path.name + ".new")
    partial.write_text(f"{value}\n")
    os.replace(partial, path)


def test_rapl_sums_the_package_domains_and_unwraps_the_counter(tmp_path):
    powercap = rapl_tree(tmp_path)
    source = open_source({"source": "rapl", "root": str(tmp_path)})
    source.check()
    assert source.describe()["domains"] == ["package-0", "package-1"]
    assert source.describe()["kind"] == "energy"
    first = source.read_once()
    assert first["joules"] == 0 and first["domains"] == {"package-0": 0, "package-1": 0}
    set_counter(powercap / "intel-rapl:0/energy_uj", RANGE_UJ - 500_000)
    set_counter(powercap / "intel-rapl:1/energy_uj", 2_002_000)
    source.read_once()
    set_counter(powercap / "intel-rapl:0/energy_uj", 1_500_000)  # wrapped
    last = source.read_once()
    # the counter runs 0..RANGE_UJ: from 1000 it is RANGE_UJ + 1 - 1000 uJ to the wrap
    assert round(last["domains"]["package-0"] * 1e6) == (RANGE_UJ + 1 - 1000) + 1_500_000
    assert last["domains"]["package-1"] == pytest.approx(2.0)
    assert last["joules"] == pytest.approx(sum(last["domains"].values()))
    assert last["t_ns"] > first["t_ns"]


def test_rapl_sampling_thread_sees_a_wrap(tmp_path):
    powercap = rapl_tree(tmp_path)
    counter = powercap / "intel-rapl:0/energy_uj"
    source = open_source({"source": "rapl", "root": str(tmp_path), "interval_ms": 10})
    source.check()
    samples = []
    set_counter(counter, RANGE_UJ - 1_000_000)
    source.start(samples.append)
    for value in (RANGE_UJ - 10_000, 19_999, 2_999_999):  # the wrap adds RANGE_UJ + 1
        time.sleep(0.05)
        set_counter(counter, value)
    time.sleep(0.05)
    source.stop()
    joules = [s["domains"]["package-0"] for s in samples]
    assert joules == sorted(joules)
    assert round(joules[-1] * 1e6) == 4_000_000  # to the microjoule
    assert samples[-1]["joules"] == pytest.approx(4.0, abs=1e-9)


def test_rapl_domains_by_kind_and_exact_name(tmp_path):
    rapl_tree(tmp_path)
    options = {"source": "rapl", "root": str(tmp_path), "domains": ["dram", "core"]}
    keys = open_source(options).describe()["domains"]
    assert keys == ["core@intel-rapl:0:0", "dram", "core@intel-rapl:1:0"]
    options["domains"] = ["package-1"]
    assert open_source(options).describe()["domains"] == ["package-1"]
    options["domains"] = ["psys"]
    with pytest.raises(PowerUnavailable, match="package-0"):
        open_source(options).check()


def test_rapl_unreadable_counter_says_root_and_the_fix(tmp_path):
    powercap = rapl_tree(tmp_path)
    (powercap / "intel-rapl:1/energy_uj").chmod(0)
    if os.geteuid() == 0:
        pytest.skip("root reads a file whatever its mode")
    with pytest.raises(PowerUnavailable) as raised:
        open_source({"source": "rapl", "root": str(tmp_path)}).check()
    assert "root" in str(raised.value) and "chmod o+r" in str(raised.value)


def test_rapl_missing_is_unavailable(tmp_path):
    with pytest.raises(PowerUnavailable, match="no Intel RAPL here"):
        open_source({"source": "rapl", "root": str(tmp_path)}).check()


def test_rapl_refuses_a_domain_inside_another_selected_one(tmp_path):
    """core (intel-rapl:0:0) is inside package-0 (intel-rapl:0): summing both counts the core
    energy twice (1.6 x package was reported). Refused at load and by the agent on the tree."""
    from edgebench.power import check_source
    from edgebench.settings import ConfigError

    with pytest.raises(ConfigError, match="core are inside package"):
        check_source({"source": "rapl", "domains": ["package", "core"]}, "x86")
    check_source({"source": "rapl", "domains": ["core", "dram"]}, "x86")  # disjoint: fine
    rapl_tree(tmp_path)
    nested = {"source": "rapl", "root": str(tmp_path), "domains": ["package-1", "core"]}
    with pytest.raises(PowerUnavailable, match=r"core@intel-rapl:1:0 inside intel-rapl:1"):
        open_source(nested).check()
    nested["domains"] = ["package-1", "dram"]  # package 0's dram: not inside package-1
    open_source(nested).check()


# --- checks the README promises at load ------------------------------------------------------


def test_a_missing_tegrastats_command_is_refused_at_load_for_this_machine(tmp_path):
    from edgebench.power import check_local_program
    from edgebench.settings import ConfigError

    power = {"source": "tegrastats", "command": str(tmp_path / "no-tegrastats")}
    with pytest.raises(ConfigError, match=r"devices/orin.yaml: power: .*no-tegrastats is not on"):
        check_local_program(power, "orin")
    check_local_program({"source": "rapl"}, "orin")  # a RAPL-less machine runs without power


@pytest.fixture(scope="module")
def fc_model(tmp_path_factory) -> Path:
    """A real LiteRT model for the agent to run."""
    from edgebench.convert.job import convert_workload
    from edgebench.settings import load_catalog
    from edgebench.testing.project import REPO
    from edgebench.workloads.build import build_workload

    root = tmp_path_factory.mktemp("fc")
    spec = load_catalog(REPO)["layer-fc-128-32"]
    build_workload(spec, root / "w" / "model.keras", root / "w" / "meta.json")
    record = convert_workload(root / "w", "tflite-fp32", root / "c" / "tflite-fp32.json")
    return root / "c" / record["model_file"]


def agent_job(power: dict, **more) -> dict:
    return {
        "device": "board", "workload": "layer-fc-128-32", "format": "tflite-fp32",
        "runtime_family": "tflite", "batch_sizes": [1], "threads": 1, "seed": 0,
        "timing": {"warmup_runs": 1, "warmup_s": 0.0, "min_runs": 5, "min_s": 0.0, "max_s": 1},
        "input_range": [-1.0, 1.0], "power": power, **more,
    }  # fmt: skip


def test_a_board_without_its_tegrastats_fails_the_run_not_ok_with_empty_power(tmp_path, fc_model):
    """The agent on a board (where the host cannot look at load) ends the run `failed`, naming
    the missing program, instead of a complete run with empty power cells."""
    from edgebench.devices.staging import AGENT_PACKAGE, stage_run

    power = {"source": "tegrastats", "command": "/opt/nowhere/tegrastats", "idle_s": 1,
             "interval_ms": 100, "min_samples": 10}  # fmt: skip
    job = agent_job(power)
    stage = tmp_path / "stage"
    stage_run(stage, fc_model, job, None)
    agent = [sys.executable, "-m", AGENT_PACKAGE, "job.json"]
    ran = subprocess.run(agent, cwd=stage, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    end = json.loads((stage / "out" / "run.jsonl").read_text().splitlines()[-1])
    assert end["status"] == "failed"
    assert "/opt/nowhere/tegrastats is not on PATH" in end["reason"]
    assert not (stage / "out" / "power.jsonl").exists()


def test_a_host_meter_starts_when_the_run_starts_not_while_the_board_is_waited_for(
    tmp_path, fc_model
):
    """The agent waits for another project's run on the board (its lock held here); the UM
    meter is not polled until the agent holds the board and says its run started, then it
    samples the run, idle window included."""
    from edgebench.agent.boardlock import hold
    from edgebench.agent.powerlog import RUN_STARTED
    from edgebench.devices.staging import AGENT_PACKAGE, stage_run
    from edgebench.power import lengthened, power_settings
    from edgebench.power.host import host_meter, log_file
    from edgebench.power.integrate import batch_power, load_trace
    from edgebench.testing.meters import UmEmulator

    lock = tmp_path / "board.lock"
    others = {"device": "x", "owner": {"host": "another-host", "project": "/elsewhere"}}
    held = hold(str(lock), others, wait_s=1, say=lambda line: None)
    stage = tmp_path / "stage"
    job_log = tmp_path / "job.log"
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the agent's waiting line, at once
    with UmEmulator("um25c", power=lambda t: 2.0) as emulator, open(job_log, "w") as log:
        power = power_settings({"source": "um25c", "port": emulator.port, "min_samples": 2,
                                "idle_s": 1})  # fmt: skip
        owner = {"host": "this-host", "project": "/this/project"}
        job = agent_job(power, board_lock=str(lock), owner=owner, lock_wait_s=300)
        job["timing"] = lengthened(job["timing"], power)  # as the host lengthens it
        stage_run(stage, fc_model, job, None)
        with host_meter(power, tmp_path / "meter", log_file(log)) as meter_log:
            agent = subprocess.Popen(
                [sys.executable, "-m", AGENT_PACKAGE, "job.json"],
                cwd=stage, stdout=log, stderr=subprocess.STDOUT, env=environment,
            )  # fmt: skip
            try:
                deadline = time.monotonic() + 120
                while "board lock" not in job_log.read_text():
                    assert agent.poll() is None and time.monotonic() < deadline, job_log.read_text()
                    time.sleep(0.05)
                assert emulator.requests == 0  # nothing polled while the board is waited for
                held.close()
                assert agent.wait(timeout=300) == 0, job_log.read_text()
            finally:
                agent.kill()
        assert RUN_STARTED in job_log.read_text() and emulator.requests > 0
    meter_end = json.loads(meter_log.read_text().splitlines()[-1])
    assert meter_end["status"] == "ok" and meter_end["samples"] >= 2
    run = [json.loads(line) for line in (stage / "out" / "run.jsonl").read_text().splitlines()]
    (stage / "out" / "meter.jsonl").write_bytes(meter_log.read_bytes())
    (row,) = batch_power(load_trace(stage / "out", run[0], run[-1]), min_samples=2).values()
    assert row["power_w"] == pytest.approx(2.0), row
    assert row["idle_power_w"] == pytest.approx(2.0), row
