"""A headless Chromium driven over the DevTools protocol (``--remote-debugging-pipe``).

Just enough to open a page, run JavaScript in it and read what it returns: the
model page tests use it to watch ``models.js`` follow a job over SSE.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless browser; messages are JSON separated by NUL bytes on fds 3/4."""

    def __init__(self, width: int = 390, height: int = 1400) -> None:
        assert CHROMIUM is not None
        to_browser, from_us = os.pipe()
        to_us, from_browser = os.pipe()

        def wire_fds() -> None:  # the protocol's fixed fds, without clobbering
            os.dup2(to_browser, 100)
            os.dup2(from_browser, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)

        self._process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--window-size={width},{height}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            close_fds=False,
            preexec_fn=wire_fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._out = os.fdopen(from_us, "wb", buffering=0)
        self._in = to_us
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._ready = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._in, 65536):
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._ready:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._ready.notify_all()

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str = ""
    ) -> dict[str, Any]:
        self._next += 1
        number = self._next
        message: dict[str, Any] = {
            "id": number,
            "method": method,
            "params": params or {},
        }
        if session:
            message["sessionId"] = session
        self._out.write(json.dumps(message).encode() + b"\0")
        with self._ready:
            if not self._ready.wait_for(lambda: number in self._replies, timeout=20):
                raise TimeoutError(method)
            return self._replies.pop(number)

    def open(self, url: str) -> str:
        """A new tab on ``url``; returns its session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})
        session = self.send(
            "Target.attachToTarget",
            {"targetId": target["result"]["targetId"], "flatten": True},
        )["result"]["sessionId"]
        self.send("Runtime.enable", session=session)
        self.send("Page.navigate", {"url": url}, session=session)
        return str(session)

    def eval(self, session: str, expression: str) -> Any:
        answer = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=session,
        )
        return answer["result"]["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions and console errors seen so far."""
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event.get("method") == "Runtime.exceptionThrown":
                found.append(json.dumps(params.get("exceptionDetails"))[:300])
            elif (
                event.get("method") == "Runtime.consoleAPICalled"
                and params.get("type") == "error"
            ):
                found.append(json.dumps(params.get("args"))[:300])
        return found

    def close(self) -> None:
        self._process.kill()
        self._process.wait(10)
        self._out.close()
        os.close(self._in)
