"""Open pages in Debian's headless Chromium over the DevTools protocol (websocket-client), for tests.

``with Browser() as b: report = b.load(path)`` navigates to a local file, waits for the load event and returns
what went wrong (console errors and warnings, uncaught exceptions, failed loads, log errors);
``b.evaluate(js)`` runs an expression in the page and returns its value. The browser runs offline, in a
throw-away profile, with the flags of the Debian package's headless mode.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from attrition.book import CHROMIUM_FLAGS, find_chromium

__all__ = ["Browser", "chromium_or_skip"]


def chromium_or_skip():
    """The Chromium executable; skip the test if there is none, unless ``ATTRITION_REQUIRE_BROWSER`` is set
    (``.ci/run`` sets it after installing Chromium, so CI never skips silently)."""
    import pytest

    found = find_chromium()
    if found is None:
        if os.environ.get("ATTRITION_REQUIRE_BROWSER"):
            pytest.fail("ATTRITION_REQUIRE_BROWSER is set but no Chromium is installed (apt-get install chromium)")
        pytest.skip("no Chromium installed (Debian: apt-get install chromium)")
    return found


class Browser:
    """A headless Chromium driven over the DevTools protocol."""

    def __init__(self, executable: str, timeout: float = 30.0):
        self.executable, self.timeout = executable, timeout
        self._next_id = 0

    def __enter__(self):
        import websocket

        self._profile = tempfile.mkdtemp(prefix="attrition-chromium-")
        self._proc = subprocess.Popen(
            [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
             "--window-size=1200,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.__exit__(None, None, None)
                raise RuntimeError("Chromium did not start its DevTools server")
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=self.timeout) as r:
            targets = json.load(r)
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=self.timeout,
                                               suppress_origin=True)
        self._events = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc):
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _receive(self) -> dict:
        msg = json.loads(self._ws.recv())
        if "method" in msg:
            self._events.append(msg)
        return msg

    def call(self, method: str, **params) -> dict:
        """Send one DevTools command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        me = self._next_id
        self._ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            msg = self._receive()
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def load(self, path) -> list[str]:
        """Open a local file, wait for its load event; return the problems seen (empty if none)."""
        self._events = []
        self.call("Page.navigate", url=Path(path).resolve().as_uri())
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self._events):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} did not finish loading")
            self._receive()
        self.evaluate("0")  # let pending console messages arrive
        problems = []
        for e in self._events:
            p, m = e.get("params", {}), e["method"]
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                problems.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
            elif m == "Runtime.exceptionThrown":
                problems.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
                problems.append(f"log {p['entry']['level']}: {p['entry']['text']} {p['entry'].get('url', '')}")
            elif m == "Network.loadingFailed":
                problems.append(f"load failed: {p.get('errorText')} ({p.get('type')})")
            elif m == "Network.requestWillBeSent" and not p["request"]["url"].startswith(("file:", "data:")):
                problems.append(f"network request: {p['request']['url']}")
        return problems

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}...: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")
