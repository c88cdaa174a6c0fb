"""A real headless Chromium, driven over the DevTools protocol on a pipe (stdlib only).

    with Chromium(tmp_path) as browser:
        page = browser.open("file:///.../index.html")
        page.wait_for("document.readyState === 'complete'")
        page.evaluate("document.title"), page.console_errors(), page.screenshot(clip)

Chromium reads DevTools commands from fd 3 and writes replies and events to fd 4, each message
a JSON object followed by a NUL byte (--remote-debugging-pipe).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

BINARY = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
]


class BrowserError(RuntimeError):
    pass


class Chromium:
    def __init__(self, scratch: Path, width: int = 1400, height: int = 1000):
        if BINARY is None:
            raise BrowserError("no chromium binary on PATH")
        self.width, self.height = width, height
        profile = Path(scratch) / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_pipes():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [BINARY, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"],
            pass_fds=(3, 4),
            preexec_fn=wire_pipes,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    # --- protocol -------------------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError("timed out waiting for chromium")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (code {self.process.poll()})")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def call(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 60,
    ) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def drain(self, seconds: float = 0.2) -> None:
        """Collect the events that arrive within a short time."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except BrowserError:
            pass

    # --- pages ----------------------------------------------------------------------------------

    def open(
        self, url: str, timeout: float = 60, width: int | None = None, height: int | None = None
    ) -> Page:
        """A new tab that loads `url` in a viewport of width x height (the browser's by default)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, session)
        for domain in ("Runtime", "Page", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width or self.width,
                "height": height or self.height,
                "deviceScaleFactor": 1,
                "mobile": False,
            },
            session=session,
        )
        self.call("Page.navigate", {"url": url}, session=session)
        page.wait_for("document.readyState === 'complete'", timeout)
        return page

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call("Browser.close", timeout=10)
            except BrowserError:
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Page:
    def __init__(self, browser: Chromium, session: str):
        self.browser, self.session = browser, session

    def _events(self, method: str) -> list[dict]:
        return [
            event["params"]
            for event in self.browser.events
            if event.get("method") == method and event.get("sessionId") == self.session
        ]

    def evaluate(self, expression: str, timeout: float = 60):
        result = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=self.session,
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for: {expression}")
            time.sleep(0.2)

    def console_errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and failed loads of this page."""
        self.browser.drain()
        errors = []
        for call in self._events("Runtime.consoleAPICalled"):
            if call["type"] in ("error", "warning", "assert"):
                errors.append(
                    f"console.{call['type']}: "
                    + " ".join(str(a.get("value", a.get("description"))) for a in call["args"])
                )
        for thrown in self._events("Runtime.exceptionThrown"):
            details = thrown["exceptionDetails"]
            errors.append(
                "exception: " + details.get("exception", {}).get("description", details["text"])
            )
        for entry in self._events("Log.entryAdded"):
            if entry["entry"]["level"] in ("error", "warning"):
                errors.append(f"log: {entry['entry']['text']} {entry['entry'].get('url', '')}")
        return errors

    def requested_urls(self) -> list[str]:
        self.browser.drain()
        return [event["request"]["url"] for event in self._events("Network.requestWillBeSent")]

    def screenshot(self, clip: dict | None = None) -> bytes:
        params = {"format": "png", "captureBeyondViewport": True}
        if clip:
            params["clip"] = {**clip, "scale": 1}
        data = self.browser.call("Page.captureScreenshot", params, session=self.session)["data"]
        return base64.b64decode(data)
