"""The host side of the MLPerf Tiny / EEMBC DUT protocol over a serial port (pyserial).

As the reference firmware and host runner in mlcommons/tiny (docs/mlperf-tiny-protocol.md):
commands end with `%`; the board answers lines ending CRLF and closes every reply with `m-ready`,
errors included. Every read is bounded by a deadline: nothing here waits forever.

Which lines are errors: a line with bytes outside printable ASCII, a line that starts like a message
this module reads but does not parse (`m-lap-us-12x4`), a line outside the protocol (no `m-`/`e-`
prefix: the reference firmware reports its own failures that way, e.g. "Input db has 0 elemented,
expected 27648"), and every `e-` line. Other well-formed `m-` lines are information and are ignored,
as the reference runner does (it matches only the lines it needs): the `m-lap-us-` the firmware
prints at boot, `m-buffer-` from `db print`, a vendor's own `m-` lines.
"""

from __future__ import annotations

import errno
import os
import re
import time
from dataclasses import dataclass

import serial

COMMAND_BUFFER = 80  # the firmware's command buffer (EE_CMD_SIZE); longer commands are cut there
LOAD_CHUNK_BYTES = 31  # per `db` line, as the reference runner: "db " + 62 hex digits + "%" = 66
READ_SLICE_S = 0.05  # one blocking read; deadlines are checked between reads
KNOWN_MODELS = ("ic01", "kws01", "vww01", "ad01")
BANNER = re.compile(r"m-timestamp-mode-(performance|energy)|m-init-done")
MESSAGES = {  # prefix -> the whole line; a line with the prefix that does not match is garbled
    "m-name-": r"m-name-dut-\[([^]]+)\]",
    "m-profile-": r"m-profile-\[([^]]+)\]",
    "m-model-": r"m-model-\[([^]]+)\]",
    "m-lap-us-": r"m-lap-us-(\d+)",
    "m-results-": r"m-results-\[([^]]*)\]",
    "m-warmup-start-": r"m-warmup-start-(\d+)",
    "m-infer-start-": r"m-infer-start-(\d+)",
    "m-timestamp-mode-": r"m-timestamp-mode-(performance|energy)",
    "m-[Expecting": r"m-\[Expecting (\d+) bytes\]",
}
WINDOW = ["m-warmup-start-", "m-warmup-done", "m-infer-start-", "m-lap-us-", "m-lap-us-",
          "m-infer-done", "m-results-"]  # fmt: skip
OPEN_PROBLEMS = {
    errno.ENOENT: "no serial port {}: is the board plugged in? (ls /dev/serial/by-id/)",
    errno.EAGAIN: "serial port {} is busy: is another program (screen, minicom, a second device in "
    "the config) holding it?",
    errno.EACCES: "no permission to open {}: add your user to the dialout group (sudo usermod -aG "
    "dialout $USER) and log in again",
}
CHECK_LINK = "check the baud in the profile, the cable, that the firmware is MLPerf Tiny's"
QUIET = "the link worked: check the board's power, press its reset, or replug the cable"
# A window's board span T2 - T1 against the host's arrival times of the two lap lines: see
# lap_bounds_us. The slack covers the time between taking a timestamp and printing it (a board
# at most a few ms; the emulator a scheduler's pause), the drift a crystal (50 ppm) or even an
# untrimmed RC oscillator (1-2%) gives.
LAP_LINE = "m-lap-us-4294967295\r\n"  # the longest lap line
LAP_SLACK_S = 0.1
CLOCK_DRIFT = 0.02
ENERGY_MODE = (
    "the firmware was built in energy mode (its banner said m-timestamp-mode-energy): it prints "
    "no m-lap-us timestamps, an energy monitor reads its GPIO instead; flash the performance-mode "
    "build (EE_CFG_ENERGY_MODE 0) to time it over serial"
)


class DutError(RuntimeError):
    """The board answered with an error or something outside the protocol, or the port failed."""


class DutTimeout(DutError):
    """Nothing, or no `m-ready`, within the bounded time."""


class DutReset(DutError):
    """The boot banner arrived in the middle of a command: the board restarted, state lost."""


@dataclass
class Window:
    count: int
    warmup: int
    start_us: int
    end_us: int
    results: list[float]
    host_start_ns: int
    host_end_ns: int
    # when each lap line could have arrived at the host at the earliest (the start of the read
    # before the one that brought it); host_start_ns / host_end_ns are the latest
    host_start_after_ns: int | None = None
    host_end_after_ns: int | None = None

    @property
    def elapsed_us(self) -> int:
        """End minus start on the board's 32-bit microsecond counter, across one wrap."""
        return (self.end_us - self.start_us) % 2**32


def lap_bounds_us(window: Window, baud: int) -> tuple[float, float]:
    """The span T2 - T1 the board can have measured, from when the host got the two lap lines.

    The board takes T1, then prints its line; the line has fully arrived after the earliest time
    e1 (a read that did not yet hold it had started) and before the latest l1 (the read that
    brought it returned); the same for T2 (e2, l2). A line takes `line` = its 10 bits per
    character at the baud on the wire, and `slack` covers printing it. So on the host's clock
    e2 - l1 - line - slack <= T2 - T1 <= l2 - e1 + line + slack, and the board's crystal may run
    CLOCK_DRIFT fast or slow against it.
    """
    line_s = len(LAP_LINE) * 10 / baud + LAP_SLACK_S
    most_s = (window.host_end_ns - window.host_start_after_ns) / 1e9 + line_s
    least_s = (window.host_end_after_ns - window.host_start_ns) / 1e9 - line_s
    return max(0.0, least_s) * 1e6 * (1 - CLOCK_DRIFT), most_s * 1e6 * (1 + CLOCK_DRIFT)


def quote(raw: bytes, limit: int = 60) -> str:
    return repr(raw[:limit]) + ("..." if len(raw) > limit else "")


def open_problem(port: str, error: serial.SerialException) -> str:
    known = errno.ENOENT if not os.path.exists(port) else error.errno
    return OPEN_PROBLEMS.get(known, "cannot open serial port {}: " + str(error)).format(port)


def as_text(raw: bytes) -> str | None:
    """The line as text, None when it holds anything but printable ASCII."""
    return raw.decode("ascii") if raw.isascii() and raw.decode().isprintable() else None


def match(line: str) -> tuple[str, re.Match | None]:
    """The known message a line is (its prefix, or the whole line) and its parse."""
    for prefix, pattern in MESSAGES.items():
        if line.startswith(prefix):
            return prefix, re.fullmatch(pattern, line)
    return line, None


class DutLink:
    def __init__(self, port: str, baud: int = 115200, timeout_s: float = 5.0,
                 banner_wait_s: float = 10.0):  # fmt: skip
        self.port, self.baud = port, baud
        self.timeout_s, self.banner_wait_s = timeout_s, banner_wait_s
        self._pending, self._dropped, self._read_ns = bytearray(), b"", 0
        self._fill_start_ns = self._after_ns = 0  # a line in _pending arrived after _after_ns
        self.arrived_after_ns = 0
        self.answered = 0  # replies that ended with m-ready on this link
        self._rebooted: tuple[str | None] | None = None  # a banner read in a reply: (its mode,)
        try:
            self._serial = serial.Serial(port, baud, timeout=READ_SLICE_S,
                                         write_timeout=timeout_s, exclusive=True)  # fmt: skip
        except serial.SerialException as error:
            raise DutError(open_problem(port, error)) from error

    def __enter__(self) -> DutLink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._serial.close()

    def _fail(self, kind: type[DutError], sent: str | None, what: str, todo: str) -> DutError:
        command = f"command {sent + '%'!r}" if sent is not None else "waiting for the boot banner"
        return kind(f"{self.port} at {self.baud} baud, {command}: {what}; {todo}")

    def _fill(self) -> None:
        self._after_ns, self._fill_start_ns = self._fill_start_ns, time.monotonic_ns()
        try:
            chunk = self._serial.read(max(1, self._serial.in_waiting))
        except serial.SerialException as error:
            raise DutError(f"{self.port}: the port failed ({error}); is it unplugged?") from None
        self._read_ns = time.monotonic_ns()
        self._pending += chunk

    def _next_line(self, deadline: float) -> tuple[bytes, int] | None:
        """The next raw line (CR, LF and NUL stripped) and when it arrived; None at the deadline.
        Every newline in _pending came with the last read: it arrived after the read before it
        started (self.arrived_after_ns) and before the last one returned."""
        while (end := self._pending.find(b"\n")) < 0:
            if time.monotonic() >= deadline:
                return None
            self._fill()
        raw = bytes(self._pending[:end]).strip(b"\r\0")
        del self._pending[: end + 1]
        self.arrived_after_ns = self._after_ns
        return raw, self._read_ns

    def _discard_stale(self, sent: str) -> None:
        """Drop what arrived since the last reply (the rest of a timed-out one); a banner there
        means the board restarted in between."""
        self._pending += self._serial.read(self._serial.in_waiting)
        self._dropped, self._pending = bytes(self._pending), bytearray()
        stale = self._dropped.split(b"\n")
        banner = [as_text(line.strip(b"\r\0")) or "" for line in stale]
        if any(BANNER.fullmatch(text) for text in banner):
            self._rebooted = (next((t for t in banner if t.startswith("m-timestamp-mode-")), None),)
            raise self._fail(DutReset, sent, "the board restarted since the last command (boot "
                             "banner seen): what was loaded is lost", "load it again")  # fmt: skip

    def _send(self, text: str) -> None:
        line = text + "%"
        if "%" in text or not line.isascii() or len(line) > COMMAND_BUFFER:
            raise ValueError(f"command {line!r}: the board takes one ASCII command of at most "
                             f"{COMMAND_BUFFER} characters, '%' included")  # fmt: skip
        self._discard_stale(text)
        try:
            self._serial.write(line.encode("ascii"))
        except serial.SerialTimeoutException as error:
            raise self._fail(DutTimeout, text, "the port took no data", CHECK_LINK) from error

    def _reply(self, sent: str, deadline: float) -> list[tuple[str, int, int]]:
        """The lines before `m-ready`, each with its latest and earliest arrival time. An error
        line is reported after the `m-ready` that ends it, so the link stays in step."""
        lines, problem = [], None
        while (got := self._next_line(deadline)) is not None:
            raw, at_ns = got
            text = as_text(raw)
            if text == "m-ready":
                self.answered += 1
                if problem:
                    raise problem
                return lines
            if text is not None and BANNER.fullmatch(text):
                self._rebooted = (match(text)[1].group(1) if "mode" in text else None,)
                self._skip_to_ready(time.monotonic() + self.timeout_s)  # the rest of the banner
                raise self._fail(DutReset, sent, f"the board restarted (boot banner {text!r}); "
                                 "what was loaded is lost", "look for a brown-out or watchdog, "
                                 "then load the input again")  # fmt: skip
            problem = problem or self._line_problem(sent, raw, text)
            if text and problem is None:
                lines.append((text, at_ns, self.arrived_after_ns))
        raise problem or self._timeout(sent, [line for line, *_ in lines])

    def _timeout(self, sent: str, lines: list[str]) -> DutTimeout:
        partial = f" and a part line {quote(bytes(self._pending))}" if self._pending else ""
        what = f"no m-ready in time (received {lines}{partial})"
        if as_text(self._dropped.replace(b"\r\n", b"")) is None:
            what += f"; before it {quote(self._dropped)}, bytes that are no text: a wrong baud?"
        elif self.answered and not lines and not self._pending:
            return self._fail(DutTimeout, sent, f"{what}; the board answered {self.answered} "
                              "commands on this link, then stopped answering", QUIET)  # fmt: skip
        return self._fail(DutTimeout, sent, what, CHECK_LINK)

    def _skip_to_ready(self, deadline: float) -> None:
        while (got := self._next_line(deadline)) is not None and got[0] != b"m-ready":
            pass

    def _line_problem(self, sent: str, raw: bytes, text: str | None) -> DutError | None:
        if text is not None and text.startswith("e-"):
            return self._fail(DutError, sent, f"the board answered {text!r}",
                              "see the firmware's message; the command was refused")  # fmt: skip
        prefix, parsed = match(text or "")
        if (
            text is None
            or (prefix in MESSAGES and parsed is None)
            or (text and not text.startswith("m-"))
        ):
            todo = f"noise, or a wrong baud if every line is garbled: {CHECK_LINK}"
            return self._fail(DutError, sent, f"garbled or unknown line {quote(raw)}", todo)
        return None

    def command(self, text: str, timeout_s: float | None = None) -> list[str]:
        self._send(text)
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        return [line for line, *_ in self._reply(text, deadline)]

    def _field(self, sent: str, lines: list[str], prefix: str) -> str:
        for line in lines:
            if line.startswith(prefix):
                return match(line)[1].group(1)
        raise self._fail(DutError, sent, f"no {prefix}... line in {lines}", CHECK_LINK)

    def _wait_banner(self) -> tuple[bool, str | None]:
        """Whether the boot banner came within banner_wait_s, and the timestamp mode it gave."""
        deadline, seen, mode = time.monotonic() + self.banner_wait_s, False, None
        while (got := self._next_line(deadline)) is not None:
            text = as_text(got[0])
            if problem := self._line_problem(None, got[0], text):
                raise problem
            seen = seen or bool(BANNER.fullmatch(text))
            if text.startswith("m-timestamp-mode-"):
                mode = match(text)[1].group(1)
            if seen and text == "m-ready":
                break
        return seen, mode

    def connect(self) -> dict:
        """The board's name, firmware and model; the boot banner is waited for unless a reply
        already held it (a reset the host saw)."""
        if self._rebooted is not None:
            (mode,), banner, self._rebooted = self._rebooted, True, None
        else:
            banner, mode = self._wait_banner()
        try:
            names = self.command("name")
        except DutReset:  # it booted as the wait ended: the banner came before the answer
            mode, self._rebooted = (self._rebooted or (None,))[0] or mode, None
            banner, names = True, self.command("name")
        except DutTimeout as error:
            waited = "" if banner else f"; no boot banner came within {self.banner_wait_s} s either"
            raise DutTimeout(f"{error}{waited}") from None
        name, profile_lines = self._field("name", names, "m-name-"), self.command("profile")
        model = self._field("profile", profile_lines, "m-model-")
        if model not in KNOWN_MODELS:
            raise self._fail(DutError, "profile", f"the firmware runs model {model!r}",
                             f"edgebench runs {', '.join(KNOWN_MODELS)}")  # fmt: skip
        return {
            "name": name,
            "profile": self._field("profile", profile_lines, "m-profile-"),
            "model": model,
            "timestamp_mode": mode,
            "banner": banner,
        }

    def load(self, data: bytes) -> None:
        if not data:
            raise ValueError("nothing to load")
        sent = f"db load {len(data)}"
        if f"m-[Expecting {len(data)} bytes]" not in self.command(sent):
            raise self._fail(DutError, sent, "no m-[Expecting N bytes] acknowledgement",
                             "the firmware's input buffer may be smaller")  # fmt: skip
        for offset in range(0, len(data), LOAD_CHUNK_BYTES):
            chunk = data[offset : offset + LOAD_CHUNK_BYTES]
            done = "m-load-done" in self.command(f"db {chunk.hex()}")
            last = offset + len(chunk) == len(data)
            if done != last:
                what = f"m-load-done {'early' if done else 'missing'} ({offset + len(chunk)} sent)"
                raise self._fail(DutError, "db ...", what, f"a byte went astray: {CHECK_LINK}")

    def infer(self, count: int, warmup: int, timeout_s: float) -> Window:
        sent = f"infer {count} {warmup}"
        self._send(sent)
        lines = self._reply(sent, time.monotonic() + timeout_s)
        known = [(match(text), at_ns, after) for text, at_ns, after in lines
                 if match(text)[0] in WINDOW]  # fmt: skip
        kinds = [prefix for (prefix, _), *_ in known]
        if kinds != WINDOW:
            raise self._fail(DutError, sent, f"the window's lines were {kinds}, not {WINDOW}",
                             "a firmware in energy mode prints no m-lap-us-")  # fmt: skip
        values = [parsed.group(1) if parsed else None for (_, parsed), *_ in known]
        if (int(values[0]), int(values[2])) != (warmup, count):
            raise self._fail(DutError, sent, f"the board ran {values[2]} inferences after "
                             f"{values[0]} warm-ups", "the command was cut or misread")  # fmt: skip
        window = Window(count, warmup, int(values[3]), int(values[4]),
                        self._results(sent, values[6]), known[3][1], known[4][1],
                        known[3][2], known[4][2])  # fmt: skip
        least_us, most_us = lap_bounds_us(window, self.baud)
        if not least_us <= window.elapsed_us <= most_us:
            raise self._fail(DutError, sent, f"the board's window T2 - T1 = {window.elapsed_us} us "
                             f"(m-lap-us-{values[3]}, m-lap-us-{values[4]}) but the host got the "
                             f"two lines {(known[4][1] - known[3][1]) / 1e3:.1f} ms apart, so the "
                             f"board's span lies in {least_us:.0f}-{most_us:.0f} us",
                             f"a lap line was misread: {CHECK_LINK}")  # fmt: skip
        return window

    def _results(self, sent: str, body: str) -> list[float]:
        try:
            return [float(value) for value in body.split(",") if value.strip()]
        except ValueError:
            raise self._fail(DutError, sent, f"garbled results {body!r}", CHECK_LINK) from None

    def results(self) -> list[float]:
        body = self._field("results", self.command("results"), "m-results-")
        return self._results("results", body)
