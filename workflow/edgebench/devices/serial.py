"""The serial transport: a microcontroller board running MLPerf Tiny reference firmware.

No Python reaches the board: the host speaks the firmware's protocol (edgebench.devices.
tiny_protocol) and writes the same run.jsonl an agent writes. The firmware holds its own model;
the profile's `models` maps the model id it reports (`m-model-ic01`) to a workload, and a run of
any other workload is an `unsupported` row saying which firmware to flash. The converted int8
file on the host gives the input's shape and quantization (the bytes sent with `db`).

Latency and throughput come from the board's own microsecond timestamps: `windows` windows
(5, as the reference runner) of N inferences each, N chosen from a calibration window so that
each lasts at least `window_s` (10 s by default). Each window is one `sample` record carrying
its inference count; a window cut short (a reset, a garbled line) is retried, never recorded.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np

from edgebench.agent.power import PowerRecorder
from edgebench.agent.runlog import (
    RunLogWriter,
    accuracy_record,
    batch_record,
    encode,
    header_record,
    window_record,
)
from edgebench.agent.runner import quantize, random_inputs
from edgebench.agent.runtimes import load_runtime
from edgebench.devices.serial_profile import (
    SERIAL_FORMATS,
    SERIAL_OPTIONS,
    serial_profile_problems,
    serial_settings,
)
from edgebench.devices.ssh import SshError
from edgebench.devices.transport import Transport
from edgebench.fileio import sha256_file

RUNTIME_NAME = "mlperf-tiny-firmware"
RESIZES = 3  # times a window shorter than window_s is made again with more inferences


class SerialError(SshError):
    """The board could not be reached or driven over its serial port (the transport's link
    error: the job fails, so the run is tried again next time)."""


def window_size(per_inference_us: float, window_s: float) -> int:
    """Inferences in a window of at least `window_s`, from a calibration's time per inference
    (5% over, so that a slightly faster window still reaches it)."""
    per_inference_us = max(per_inference_us, 1.0)
    return max(1, math.ceil(window_s * 1e6 / per_inference_us * 1.05))


class SerialTransport(Transport):
    name = "serial"
    stages_agent = False  # no agent runs on the board
    formats = SERIAL_FORMATS
    required = ("port",)
    options = SERIAL_OPTIONS

    @classmethod
    def board_id(cls, profile: dict) -> str:
        return os.path.realpath(profile["port"])  # a /dev/serial/by-id/ link names its tty

    @classmethod
    def check_profile(cls, profile: dict, catalog: dict) -> list[str]:
        return serial_profile_problems(profile, catalog)

    @classmethod
    def ports(cls, profile: dict) -> list[str]:
        return [profile["port"]]

    def __init__(self, profile: dict):
        super().__init__(profile)
        self.settings = serial_settings(profile)
        self.port = profile["port"]

    def board_lock(self, board: str) -> str:
        """The port is opened exclusively: a second job on the same board finds it busy."""
        return self.port

    def run(self, stage: Path, log) -> int:
        job = json.loads((stage / "job.json").read_text())
        log.write(f"serial {self.port} at {self.settings['baud']} baud\n")
        log.flush()
        SerialRun(job, stage, self.profile, self.settings, log).run()
        return 0

    def run_python(self, code: str, *args: str):
        raise NotImplementedError("a microcontroller board runs no Python")

    def cleanup(self, stage: Path) -> None:
        shutil.rmtree(stage, ignore_errors=True)


class SerialRun:
    """One run of a job on the board; leaves out/run.jsonl (and accuracy.npz, power.jsonl)."""

    def __init__(self, job: dict, stage: Path, profile: dict, settings: dict, log):
        self.job, self.stage, self.profile, self.settings, self.log = (
            job,
            stage,
            profile,
            settings,
            log,
        )
        self.out = stage / job.get("out", "out")
        self.model = stage / job["model"]
        self._runtime = None

    def say(self, line: str) -> None:
        self.log.write(line + "\n")
        self.log.flush()

    def run(self) -> None:
        shutil.rmtree(self.out, ignore_errors=True)
        writer = RunLogWriter(self.out / "run.jsonl")
        header = self.header()
        expected = self.expected_model_ids()
        if not expected:
            writer.write(header)
            writer.end("unsupported", self.unmapped_reason())
            return
        with self.link() as link:
            board = self.connect(link)
            header["facts"].update(board_facts(board, self.settings))
            header["runtime"] = {"name": RUNTIME_NAME, "version": board.get("profile")}
            writer.write(header)
            if board["model"] not in expected:
                writer.end("unsupported", self.wrong_firmware_reason(board["model"]))
                return
            if board["timestamp_mode"] == "energy":
                from edgebench.devices.tiny_protocol import ENERGY_MODE

                writer.end("unsupported", ENERGY_MODE)
                return
            self.measure(link, writer)
            if self.job.get("accuracy_inputs"):
                self.accuracy(link, writer)
        writer.end("complete")

    # --- the pieces ---------------------------------------------------------------------------

    def header(self) -> dict:
        return header_record(
            {
                "device": self.job["device"],
                "workload": self.job["workload"],
                "format": self.job["format"],
                "facts": {"hostname": socket.gethostname(), "cpu_model": None},
                "runtime": None,
                "threads": None,
                "threads_from": "firmware",
                "model": {
                    "file": self.model.name,
                    "sha256": sha256_file(self.model),
                    "size_bytes": self.model.stat().st_size,
                    "on_device": "the firmware's own model; this file gave the input quantization",
                },
                "timing": {
                    key: self.settings[key]
                    for key in ("windows", "window_s", "warmup_runs", "calibration_runs")
                },
                "batch_sizes": [1],
                "processes": 1,
                "power": self.job.get("power"),
                "seed": self.job["seed"],
                "clock": "device_us",
                "host_clock": None,
                "started_ns": time.monotonic_ns(),
            }
        )

    def expected_model_ids(self) -> list[str]:
        models = self.settings["models"]
        return [mid for mid, workload in models.items() if workload == self.job["workload"]]

    def unmapped_reason(self) -> str:
        mapped = ", ".join(f"{k} -> {v}" for k, v in self.settings["models"].items())
        return (
            f"no firmware model maps to workload {self.job['workload']!r} in devices/"
            f"{self.job['device']}.yaml models ({mapped}): an MLPerf Tiny board runs only the "
            "model its firmware holds"
        )

    def wrong_firmware_reason(self, model_id: str) -> str:
        held = self.settings["models"].get(model_id, "no workload in the profile's models")
        wanted = ", ".join(self.expected_model_ids())
        return (
            f"the board's firmware holds {model_id} ({held}), not {wanted} "
            f"({self.job['workload']}): flash the firmware for {wanted}, then edit "
            f"devices/{self.job['device']}.yaml models so that the runs are made again"
        )

    def link(self):
        from edgebench.devices.tiny_protocol import DutError, DutLink

        try:
            return DutLink(
                self.profile["port"],
                self.settings["baud"],
                timeout_s=self.settings["command_timeout_s"],
                banner_wait_s=self.settings["banner_wait_s"],
            )
        except DutError as error:
            raise SerialError(f"device {self.job['device']!r}: {error}") from None

    def connect(self, link) -> dict:
        from edgebench.devices.tiny_protocol import DutError

        try:
            board = link.connect()
        except DutError as error:
            raise SerialError(f"device {self.job['device']!r}: {error}") from None
        self.say(f"board {board.get('name')!r}, firmware model {board.get('model')}")
        return board

    def input_bytes(self, values: np.ndarray | None = None) -> bytes:
        """The model's input as the bytes the firmware expects: seeded random values (None),
        or `values` quantized the model's way (the host's copy of the int8 file says how)."""
        if self._runtime is None:
            self._runtime = load_runtime("tflite", None, {})
            self._runtime.prepare(str(self.model), 1, 1)
        if values is None:
            data = random_inputs(self._runtime, self.job["input_range"], self.job["seed"])
        else:
            _, dtype, quantization = self._runtime.input_spec()
            data = quantize(values.astype(np.float32), dtype, quantization)
        return encoded(data, self.settings["input_encoding"])

    def measure(self, link, writer: RunLogWriter) -> None:
        data = self.input_bytes()
        power = PowerRecorder(self.job["power"], self.out) if self.job.get("power") else None
        if power is not None:
            power.idle()
        try:
            record, windows = self.windows(link, data, power)
        finally:
            if power is not None:
                power.close()
        writer.write_lines([encode(window_sample(w)) for w in windows])
        writer.write(record)

    def retrying(self, link, action, what: str):
        """`action()`, tried again after a reset or a bad reply (the input reloaded first)."""
        from edgebench.devices.tiny_protocol import QUIET, DutError, DutTimeout

        attempts = self.settings["retries"] + 1
        for attempt in range(1, attempts + 1):
            try:
                return action()
            except DutError as error:
                self.say(f"{what}: {error} (attempt {attempt} of {attempts})")
                if attempt == attempts:
                    check = (
                        f"the board answered {link.answered} commands, then failed: {QUIET}"
                        if link.answered and isinstance(error, DutTimeout)
                        else "check the cable and the baud, and that nothing else uses "
                        f"{self.profile['port']}"
                    )
                    raise SerialError(
                        f"device {self.job['device']!r}: {what} failed {attempts} times, last: "
                        f"{error}; {check}"
                    ) from None
                self.reconnect(link, self.settings["backoff_s"] * 2 ** (attempt - 1))

    def reconnect(self, link, pause_s: float) -> None:
        from edgebench.devices.tiny_protocol import DutError

        time.sleep(pause_s)
        try:
            link.connect()
        except DutError as error:
            self.say(f"reconnect: {error}")

    def windows(self, link, data: bytes, power) -> tuple[dict, list]:
        settings = self.settings
        warmup = settings["warmup_runs"]
        started = time.monotonic_ns()
        self.retrying(link, lambda: link.load(data), "db load")
        load_ns = time.monotonic_ns() - started

        def timed(count: int, per_us: float | None = None):
            # twice the expected time and 30 s: a slow board is not a hung one
            timeout_s = 120.0 if per_us is None else (count + warmup) * per_us / 1e6 * 2 + 30

            def action():
                link.load(data)
                return link.infer(count, warmup, timeout_s)

            return self.retrying(link, action, f"infer {count} {warmup}")

        calibration = timed(settings["calibration_runs"])
        per_us = calibration.elapsed_us / calibration.count
        count = window_size(per_us, settings["window_s"])
        self.say(f"calibration: {per_us / 1000:.3f} ms per inference; windows of {count}")
        windows = []
        for index in range(settings["windows"]):
            window = timed(count, per_us)
            for _ in range(RESIZES):  # a cold calibration sizes windows too short: resize
                if window.elapsed_us >= settings["window_s"] * 1e6:
                    break
                per_us = window.elapsed_us / window.count
                count = window_size(per_us, settings["window_s"])
                self.say(f"window {index + 1} lasted {window.elapsed_us} us: {count} inferences")
                window = timed(count, per_us)
            windows.append(window)
            if power is not None:
                power.window(1, 0, window.host_start_ns, window.host_end_ns)
            self.say(
                f"window {index + 1}/{settings['windows']}: {window.elapsed_us / 1e6:.2f} s, "
                f"{window.count / (window.elapsed_us / 1e6):.2f} inferences/s"
            )
        record = batch_record(
            1,
            load_ns=load_ns,
            first_ns=None,
            warmup_runs=warmup * len(windows),
            runs=sum(w.count for w in windows),
            windows=len(windows),
            stopped_by="windows",
            window_ns=sum(w.elapsed_us for w in windows) * 1000,
            calibration={"inferences": calibration.count, "elapsed_us": calibration.elapsed_us},
            window_s=settings["window_s"],
            short_windows=sum(w.elapsed_us < settings["window_s"] * 1e6 for w in windows),
        )
        return record, windows

    def accuracy(self, link, writer: RunLogWriter) -> None:
        """Every dataset sample through `db load` + `infer 1 0` + `results`, scored on the host."""
        inputs = np.load(self.stage / self.job["accuracy_inputs"])
        outputs = []
        for index, sample in enumerate(inputs):
            data = self.input_bytes(sample[np.newaxis])
            outputs.append(self.retrying(link, lambda d=data: self.classify(link, d), "results"))
            if (index + 1) % 100 == 0:
                self.say(f"accuracy: {index + 1}/{len(inputs)} samples")
        partial = self.out / "accuracy.npz.part"
        with open(partial, "wb") as handle:
            np.savez_compressed(handle, outputs=np.asarray(outputs, dtype=np.float32))
        os.replace(partial, self.out / "accuracy.npz")
        writer.write(accuracy_record(len(outputs)))

    @staticmethod
    def classify(link, data: bytes) -> list[float]:
        link.load(data)
        link.infer(1, 0, 60.0)
        return link.results()


def encoded(data: np.ndarray, encoding: str) -> bytes:
    """The input tensor's bytes, or (`uint8`, the reference image-classification firmware,
    which subtracts 128 itself) the int8 values shifted up by 128."""
    if encoding == "uint8" and data.dtype == np.int8:
        data = (data.astype(np.int16) + 128).astype(np.uint8)
    return np.ascontiguousarray(data).tobytes()


def board_facts(board: dict, settings: dict) -> dict:
    return {
        "board": board.get("name"),
        "firmware_profile": board.get("profile"),
        "firmware_model": board.get("model"),
        "timestamp_mode": board.get("timestamp_mode"),
        "baud": settings["baud"],
    }


def window_sample(window) -> dict:
    """One window as a sample record: its span on the board's clock and its inference count
    (edgebench.rawlog divides the span by it)."""
    start_ns = window.start_us * 1000
    return window_record(
        1,
        0,
        start_ns,
        start_ns + window.elapsed_us * 1000,
        window.count,
        t1_us=window.start_us,
        t2_us=window.end_us,
    )
