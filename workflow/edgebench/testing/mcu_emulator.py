"""A board that speaks the MLPerf Tiny DUT protocol on a pseudo-terminal: test equipment, for the
tests and for trying the serial path without hardware (nothing in the workflow imports it).

It behaves like the reference firmware (mlcommons/tiny benchmark/api/internally_implemented.cpp):
an 80-character command buffer that keeps the first 80 characters, commands split on spaces,
`m-ready` after every command, `e-[...]` errors, a boot banner
(`m-timestamp-mode-performance`, `m-lap-us-T`, `m-init-done`, `m-ready`) and commands ignored while
it boots. It runs a real TFLite model with LiteRT: the loaded bytes are the input tensor's bytes
(so `db load N` must name the input's byte size; the reference firmware instead takes uint8 pixels
and converts them itself), results are the dequantized outputs printed `%0.3f` as the reference
firmware prints them, and timestamps are this machine's monotonic clock in microseconds, mod 2**32.

Misbehaviours, each chosen at construction and each happening once unless said otherwise:
garble (the first reply line gets corrupted bytes), reset (the banner again in the middle of the
first `infer` window, the loaded input lost), drop-ready (the first command gets no `m-ready`),
silent (never a byte, always), slow (every byte written late, always), lap-digit (one digit of
the first window's m-lap-us-T2 changed: 70 s later, or earlier than T1), lap-backwards (the first
window's T2 a millisecond before its T1), hang (silent for good after answering HANG_AFTER
commands). `timestamp_mode="energy"` boots as energy-mode firmware: its banner says so and its
windows print no m-lap-us lines. A host that sets the tty to
another speed than `baud` receives what a UART at that speed would: garbage, and is misheard too.

    python -m edgebench.testing.mcu_emulator --model m.tflite --model-id ic01 --link /tmp/mcu

prints the port once the board has booted (a readiness line to wait on), and stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import string
import struct
import sys
import threading
import time
import tty
from pathlib import Path

import numpy as np

MISBEHAVIOURS = frozenset(
    {"garble", "reset", "drop-ready", "silent", "slow", "lap-digit", "lap-backwards", "hang"}
)
ONCE = frozenset({"garble", "reset", "drop-ready", "lap-digit", "lap-backwards"})
HANG_AFTER = 20  # commands a hanging board answers
COMMAND_BUFFER = 80  # EE_CMD_SIZE
PROFILE = "ULPMark for tinyML Firmware V0.0.1"  # EE_FW_VERSION
SLOW_BYTE_S = 0.002  # a byte every 2 ms, about 4800 baud
POLL_S = 0.05
TCGETS2, TCSETS2, CBAUD, BOTHER = 0x802C542A, 0x402C542B, 0o010017, 0o010000  # Linux termios2


def line_speed(fd: int) -> int:
    """The baud a program set on the tty (termios2 holds it as a number, standard or not)."""
    attrs = fcntl.ioctl(fd, TCGETS2, bytes(44))
    return struct.unpack_from("I", attrs, 40)[0]


def set_line_speed(fd: int, baud: int) -> None:
    attrs = bytearray(fcntl.ioctl(fd, TCGETS2, bytes(44)))
    cflag = struct.unpack_from("I", attrs, 8)[0]
    struct.pack_into("I", attrs, 8, (cflag & ~CBAUD) | BOTHER)
    struct.pack_into("II", attrs, 36, baud, baud)
    fcntl.ioctl(fd, TCSETS2, bytes(attrs))


def misclocked(data: bytes, sent_baud: int, read_baud: int) -> bytes:
    """What a UART reading at read_baud makes of 8N1 bytes sent at sent_baud."""
    bits = [b for byte in data for b in (0, *((byte >> i) & 1 for i in range(8)), 1)]
    step = sent_baud / read_baud  # one received bit, in sent bits

    def level(t: float) -> int:
        return bits[int(t)] if int(t) < len(bits) else 1

    received, t = bytearray(), 0.0
    while t < len(bits):
        if level(t):  # idle: the receiver looks for a start bit 16 times a bit
            t += step / 16
            continue
        received.append(sum(level(t + step * (1.5 + i)) << i for i in range(8)))
        t += step * 9.5  # the middle of the stop bit, then look for the next start bit
    return bytes(received)


def corrupted(data: bytes) -> bytes:
    """Noise on the line: the high bit flipped in a few bytes of the text."""
    return bytes(
        b ^ 0x80 if 2 <= i < len(data) - 2 and i % 3 == 0 else b for i, b in enumerate(data)
    )


def atoi(text: str) -> int:
    number = re.match(r"\s*[+-]?\d+", text)
    return int(number.group()) if number else 0


class Rebooted(Exception):
    """The emulated board restarted in the middle of a command."""


class Emulator:
    def __init__(self, model: Path, model_id: str = "ic01", name: str = "edgebench-emulator",
                 baud: int = 115200, misbehave: frozenset[str] | set[str] = frozenset(),
                 boot_delay_s: float = 0.0, link: Path | None = None,
                 timestamp_mode: str = "performance"):  # fmt: skip
        unknown = set(misbehave) - MISBEHAVIOURS
        if unknown:
            raise ValueError(f"unknown misbehaviour {sorted(unknown)}: {sorted(MISBEHAVIOURS)}")
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(model), num_threads=1)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = self._interpreter.get_output_details()
        self.input_bytes = (
            int(np.prod(self._input["shape"])) * np.dtype(self._input["dtype"]).itemsize
        )
        self.model_id, self.name, self.baud = model_id, name, baud
        self.misbehave, self.boot_delay_s, self.link = frozenset(misbehave), boot_delay_s, link
        self._once = set(self.misbehave & ONCE)
        self.timestamp_mode, self.answered = timestamp_mode, 0
        self.loaded, self._expected = bytearray(), 0
        self._in_command = False
        self.booted, self._stopping = threading.Event(), threading.Event()
        self.port = ""

    def start(self) -> str:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        set_line_speed(self._slave, self.baud)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        if self.link:
            self.link.unlink(missing_ok=True)
            self.link.symlink_to(self.port)
            self.port = str(self.link)
        self._thread = threading.Thread(target=self._serve, name="mcu-emulator", daemon=True)
        self._thread.start()
        return self.port

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)
        if self.link and self.link.is_symlink():
            self.link.unlink()

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _hung(self) -> bool:
        return "hang" in self.misbehave and self.answered >= HANG_AFTER

    def _take(self, misbehaviour: str) -> bool:
        """Whether a one-time misbehaviour happens now (it then never happens again)."""
        if misbehaviour in self._once:
            self._once.discard(misbehaviour)
            return True
        return False

    # --- the wire ------------------------------------------------------------------------------

    def _receive(self) -> bytes:
        readable, _, _ = select.select([self._master], [], [], POLL_S)
        try:
            data = os.read(self._master, 4096) if readable else b""
        except OSError:  # BlockingIOError included
            return b""
        if not data:
            return b""
        host_baud = line_speed(self._slave)
        return data if host_baud == self.baud else misclocked(data, host_baud, self.baud)

    def _write(self, data: bytes) -> None:
        if "silent" in self.misbehave or self._hung():
            return
        host_baud = line_speed(self._slave)
        if host_baud != self.baud:
            data = misclocked(data, self.baud, host_baud)
        pieces = [data[i : i + 1] for i in range(len(data))] if "slow" in self.misbehave else [data]
        for piece in pieces:
            if self._stopping.is_set():
                return
            if "slow" in self.misbehave:
                time.sleep(SLOW_BYTE_S)
            while piece and not self._stopping.is_set():
                select.select([], [self._master], [], POLL_S)
                try:
                    piece = piece[os.write(self._master, piece) :]
                except BlockingIOError:
                    pass

    def _say(self, line: str) -> None:
        data = (line + "\r\n").encode("ascii")
        if self._in_command and line != "m-ready" and self._take("garble"):
            data = corrupted(data)
        self._write(data)

    def _serve(self) -> None:
        boot_end = time.monotonic() + self.boot_delay_s
        while time.monotonic() < boot_end and not self._stopping.is_set():
            self._receive()  # the parser is not enabled yet: what arrives is lost
        self._boot()
        command = bytearray()
        while not self._stopping.is_set():
            for byte in self._receive():
                if byte == ord("%"):
                    self._handle(command.decode("latin-1"))
                    command.clear()
                elif len(command) < COMMAND_BUFFER:
                    command.append(byte)

    # --- the firmware --------------------------------------------------------------------------

    def _boot(self) -> None:
        self.loaded.clear()
        self._expected = 0
        banner = f"m-timestamp-mode-{self.timestamp_mode}", f"m-lap-us-{self._now_us()}"
        for line in (*banner, "m-init-done"):
            self._say(line)
        self._say("m-ready")
        self.booted.set()

    def _handle(self, text: str) -> None:
        tokens = text.split()  # strtok(" "): runs of spaces are one delimiter
        handlers = {"name": self._name, "timestamp": self._timestamp, "profile": self._profile,
                    "db": self._db, "infer": self._infer, "results": self._results}  # fmt: skip
        handler = handlers.get(tokens[0] if tokens else "")
        self._in_command = True
        try:
            if handler:
                handler(tokens[1:])
            else:
                self._say(f"e-[Unknown command: {tokens[0] if tokens else ''}]")
        except Rebooted:
            return  # the banner ended with its own m-ready
        finally:
            self._in_command = False
        if not self._take("drop-ready"):
            self._say("m-ready")
            self.answered += 1

    def _now_us(self) -> int:
        return time.monotonic_ns() // 1000 % 2**32

    def _name(self, args: list[str]) -> None:
        self._say(f"m-name-dut-[{self.name}]")

    def _timestamp(self, args: list[str]) -> None:
        self._say(f"m-lap-us-{self._now_us()}")

    def _profile(self, args: list[str]) -> None:
        self._say(f"m-profile-[{PROFILE}]")
        self._say(f"m-model-[{self.model_id}]")

    def _db(self, args: list[str]) -> None:
        if not args:
            self._say("e-[Command 'db' requires a subcommand]")
        elif args[0] != "load":
            self._db_data(args[0])
        elif len(args) < 2:
            self._say("e-[Command 'db load' requires the # of bytes]")
        elif (size := atoi(args[1])) <= 0:
            self._say("e-[Command 'db load' must be >0 bytes]")
        elif size != self.input_bytes:
            self._say(f"e-[The model's input is {self.input_bytes} bytes, not {size}]")
        else:
            self.loaded.clear()
            self._expected = size
            self._say(f"m-[Expecting {size} bytes]")

    def _db_data(self, digits: str) -> None:
        if len(self.loaded) >= self._expected:
            return self._say("e-[No 'db load' waiting for bytes]")
        if len(digits) % 2:
            return self._say("e-[Insufficent number of hex digits]")  # the firmware's spelling
        for pair in [digits[i : i + 2] for i in range(0, len(digits), 2)]:
            if not set(pair) <= set(string.hexdigits):
                self._say(f"e-[Invalid hex digit '{pair}']")
                return
            self.loaded.append(int(pair, 16))
            if len(self.loaded) == self._expected:
                self._say("m-load-done")
                return  # the firmware disregards the remaining digits

    def _infer(self, args: list[str]) -> None:
        count = atoi(args[0]) if args else 1
        warmup = atoi(args[1]) if len(args) > 1 else 10
        if count <= 0 or warmup < 0:
            message = "iterations must be >0" if count <= 0 else "warmup must be >=0"
            return self._say(f"e-[Inference {message}]")
        if len(self.loaded) != self.input_bytes:
            return self._say(f"e-[Input holds {len(self.loaded)} of {self.input_bytes} bytes]")
        tensor = np.frombuffer(bytes(self.loaded), dtype=self._input["dtype"])
        self._interpreter.set_tensor(self._input["index"], tensor.reshape(self._input["shape"]))
        self._say(f"m-warmup-start-{warmup}")
        for _ in range(warmup):
            self._interpreter.invoke()
        self._say("m-warmup-done")
        self._say(f"m-infer-start-{count}")
        start_us = self._lap()
        for index in range(count):
            if index == count // 2 and self._take("reset"):
                self._boot()
                raise Rebooted
            self._interpreter.invoke()
        self._lap(start_us)
        self._say("m-infer-done")
        self._results([])

    def _lap(self, start_us: int | None = None) -> int:
        """Print a window's lap timestamp (energy mode: none); the end one misread if asked."""
        now_us = self._now_us()
        printed = now_us
        if start_us is not None and self._take("lap-digit"):
            digits = list(f"{now_us:010d}")
            digits[2] = str((int(digits[2]) + 7) % 10)  # the 10**7 us (10 s) digit
            printed = int("".join(digits)) % 2**32
        elif start_us is not None and self._take("lap-backwards"):
            printed = (start_us - 1000) % 2**32
        if self.timestamp_mode == "performance":
            self._say(f"m-lap-us-{printed}")
        return now_us

    def _results(self, args: list[str]) -> None:
        values = []
        for output in self._outputs:
            raw = self._interpreter.get_tensor(output["index"]).reshape(-1)
            scale, zero_point = output["quantization"]
            values += list(
                (raw.astype(np.float32) - zero_point) * np.float32(scale) if scale else raw
            )
        self._say(f"m-results-[{','.join(f'{value:.3f}' for value in values)}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="an int8 .tflite file")
    parser.add_argument("--model-id", default="ic01", choices=["ic01", "kws01", "vww01", "ad01"])
    parser.add_argument("--name", default="edgebench-emulator")
    parser.add_argument("--link", type=Path, help="a symlink to the port, e.g. /tmp/edgebench-mcu")
    parser.add_argument("--baud", type=int, default=115200)
    modes = ("performance", "energy")
    parser.add_argument("--timestamp-mode", default="performance", choices=modes)
    parser.add_argument("--misbehave", default="", help=f"comma-separated: {sorted(MISBEHAVIOURS)}")
    args = parser.parse_args(argv)
    misbehave = {word for word in args.misbehave.split(",") if word}
    emulator = Emulator(args.model, args.model_id, args.name, args.baud, misbehave,
                        link=args.link, timestamp_mode=args.timestamp_mode)  # fmt: skip
    port = emulator.start()
    emulator.booted.wait()
    print(port, flush=True)  # the readiness signal: the port, once the board has booted
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
