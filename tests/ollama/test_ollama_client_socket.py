"""The client over real sockets: lines arrive as sent, and stopping closes the link."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest

from ollama_webmgr.errors import OllamaTimeout
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.sim.serve import serve_in_thread

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

GAP = 0.25  # seconds between two lines sent by the test server


class SlowPull:
    """A WSGI app streaming pull lines with pauses; notes when its stream is closed."""

    def __init__(self, layers: int, gap: float = GAP) -> None:
        self.layers = layers
        self.gap = gap
        self.sent_at: list[float] = []
        self.closed = threading.Event()

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/x-ndjson")])
        return self._lines()

    def _lines(self) -> Iterator[bytes]:
        try:
            for i in range(self.layers):
                self.sent_at.append(time.monotonic())
                line = {"status": f"pulling {i:012x}", "total": 10, "completed": i}
                yield json.dumps(line).encode() + b"\n"
                time.sleep(self.gap)
            yield b'{"status":"success"}\n'
        finally:
            # werkzeug closes the app iterator when writing to the socket fails
            self.closed.set()


def test_pull_lines_are_yielded_as_they_arrive() -> None:
    app = SlowPull(layers=4)
    with serve_in_thread(app) as server, OllamaClient(server.url) as client:
        started = time.monotonic()
        arrivals = []
        for progress in client.pull("llama3.2"):
            arrivals.append((time.monotonic(), progress.status))

    assert [status for _, status in arrivals][-1] == "success"
    # Each line was in hand before the server had even produced the next one.
    assert len(app.sent_at) == 4
    for (received, _), next_sent in zip(arrivals, app.sent_at[1:], strict=False):
        assert received < next_sent
    assert arrivals[0][0] - started < GAP


def test_breaking_out_of_the_loop_closes_the_connection() -> None:
    app = SlowPull(layers=1000, gap=0.02)
    with serve_in_thread(app) as server, OllamaClient(server.url) as client:
        for progress in client.pull("llama3.2"):
            if progress.completed == 2:
                break

        # The server sees the closed socket on its next writes and stops.
        assert app.closed.wait(timeout=5)
        assert len(app.sent_at) < 100
        # The client still works afterwards (a fresh connection from the pool).
        assert client.is_up()


def test_pull_waits_pull_timeout_between_lines_but_generation_does_not() -> None:
    app = SlowPull(layers=2, gap=0.5)
    with serve_in_thread(app) as server:
        with OllamaClient(server.url, read_timeout=0.2, pull_timeout=3) as client:
            statuses = [p.status for p in client.pull("llama3.2")]
        with (
            OllamaClient(server.url, read_timeout=0.2) as client,
            pytest.raises(OllamaTimeout, match=r"no data received within 0\.2 s"),
        ):
            list(client.generate_stream("llama3.2", "x"))

    assert statuses[-1] == "success"
