"""Processes of the scale-out test: start, find their port, always kill.

Every process writes to its own log file; ``Process.port`` waits for the line
that names the port it bound (port 0 everywhere, so nothing collides), and
``Process.stop`` kills its whole session (the supervisors' workers, RQ's work horses).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def port(self, pattern: str, timeout: float = 60.0) -> int:
        """The port in the first log line matching ``pattern`` (group 1)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text())
            if found:
                return int(found.group(1))
            if self.popen.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not start:\n{self.text()[-3000:]}")

    def pids(self) -> set[int]:
        """This process and all its descendants."""
        try:
            root = psutil.Process(self.popen.pid)
            return {root.pid, *(c.pid for c in root.children(recursive=True))}
        except psutil.NoSuchProcess:
            return set()

    def kill(self) -> None:
        """SIGKILL the process and every descendant (workers, horses)."""
        try:
            victims = [psutil.Process(self.popen.pid)]
            victims += victims[0].children(recursive=True)
        except psutil.NoSuchProcess:
            victims = []
        for victim in victims:
            with suppress(psutil.NoSuchProcess):
                victim.send_signal(signal.SIGKILL)
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)


@dataclass
class Processes:
    """Started processes, all killed by ``stop_all`` (fixture teardown)."""

    env: dict[str, str]
    logs: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], **env: str) -> Process:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                args,
                env={**self.env, **env},
                cwd=self.logs,  # no stray .env file is read
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.kill()


class InFlight:
    """WSGI middleware on an emulated node: counts its inference requests
    while their responses stream, and remembers the highest count."""

    PATHS = frozenset({"/api/generate", "/api/chat"})

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.now = 0
        self.peak = 0
        self.served = 0
        self._lock = threading.Lock()

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in self.PATHS:
            return self.app(environ, start_response)
        with self._lock:
            self.now += 1
            self.served += 1
            self.peak = max(self.peak, self.now)
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._leave()
            raise
        return self._body(body)

    def _body(self, body: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from body
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            self._leave()

    def _leave(self) -> None:
        with self._lock:
            self.now -= 1


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    conn: http.client.HTTPConnection | None = None,
    timeout: float = 30.0,
) -> tuple[int, Any]:
    """One JSON request (on ``conn`` to stay on its worker); status and JSON."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        if own:
            conn.close()


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError, http.client.HTTPException):
            value = check()
            if value:
                return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def worker_connection(
    port: int, avoid: int | None = None, tries: int = 200
) -> tuple[http.client.HTTPConnection, int]:
    """A kept-alive connection and the pid of the web worker serving it
    (``/health`` says); with ``avoid``, one served by another worker."""
    for _ in range(tries):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        status, health = request(port, "GET", "/health", conn=conn)
        assert status == 200, health
        if health["pid"] != avoid:
            return conn, int(health["pid"])
        conn.close()
        time.sleep(0.02)
    raise AssertionError(f"every connection landed on worker {avoid}")


def sse_events(
    conn: http.client.HTTPConnection, job_id: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(event, data)`` of ``/api/stream/progress`` read on ``conn``."""
    conn.request(
        "GET",
        f"/api/stream/progress?job_id={job_id}",
        headers={"Accept": "text/event-stream"},
    )
    response = conn.getresponse()
    assert response.status == 200
    event, data = "message", ""
    while True:
        line = response.readline()
        if not line:
            return
        text = line.decode().rstrip("\r\n")
        if text.startswith("event:"):
            event = text[6:].strip()
        elif text.startswith("data:"):
            data += text[5:].strip()
        elif not text and data:
            yield event, json.loads(data)
            event, data = "message", ""


def child_env() -> dict[str, str]:
    """The test's environment without settings that would change the product."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OLLAMA_", "WEBMGR_", "GATEWAY_"))
        and k not in {"REDIS_URL", "DATABASE_URL", "ADMIN_PASSWORD", "WEB_CONCURRENCY"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    return env
