"""progress_stream served by Flask on a real socket, read by httpx as a browser would."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, Response, request, stream_with_context
from jobs_sse_parsing import parse

from ollama_webmgr.api.sse import SSE_HEADERS, SSE_MIMETYPE, progress_stream
from ollama_webmgr.jobs.bus import MemoryBus
from ollama_webmgr.jobs.context import TaskContext
from ollama_webmgr.jobs.runner import ThreadRunner
from ollama_webmgr.sim.serve import RunningServer, serve_in_thread


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def runner(gate: threading.Event) -> Iterator[ThreadRunner]:
    def gated(params: dict[str, Any], ctx: TaskContext) -> str:
        ctx.report("status", {"status": "pulling manifest"})
        gate.wait(5)
        ctx.report("status", {"status": "success"})
        return "ok"

    runner = ThreadRunner({"gated": gated}, MemoryBus())
    yield runner
    gate.set()
    runner.shutdown()


@pytest.fixture
def server(runner: ThreadRunner) -> Iterator[RunningServer]:
    bus = runner.bus  # the test app plays the route that is built elsewhere
    app = Flask(__name__)

    @app.get("/stream")
    def stream() -> Response:
        events = progress_stream(
            runner,
            bus,
            request.args["job_id"],
            request.headers.get("Last-Event-ID"),
            heartbeat=0.1,
        )
        return Response(
            stream_with_context(events), mimetype=SSE_MIMETYPE, headers=SSE_HEADERS
        )

    with serve_in_thread(app) as running:
        yield running


def read_events(response: httpx.Response, until: str) -> list[str]:
    text = ""
    for chunk in response.iter_text():
        text += chunk
        if f"event: {until}" in text and text.endswith("\n\n"):
            break
    return [text]


def test_events_reach_the_client_as_they_happen_and_resume_by_header(
    runner: ThreadRunner, server: RunningServer, gate: threading.Event
) -> None:
    job = runner.submit("gated", {})
    url = f"{server.url}/stream?job_id={job.id}"
    with httpx.Client(timeout=5) as client:
        with client.stream("GET", url) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            text = ""
            for chunk in response.iter_text():
                text += chunk
                if 'data: {"status":"pulling manifest"}\n\n' in text:
                    break  # received while the task is still blocked
        seen = [e for e in parse([text]) if e.id]
        gate.set()
        headers = {"Last-Event-ID": seen[-1].id or ""}
        with client.stream("GET", url, headers=headers) as response:
            rest = parse(read_events(response, "done"))
    kinds = [e.event for e in rest if not e.comment]
    assert kinds[0] == "status"  # current state first
    assert kinds[-1] == "done"
    resumed_ids = [e.id for e in rest if e.id]
    assert seen[-1].id not in resumed_ids
    assert all(int(i) > int(seen[-1].id or 0) for i in resumed_ids)
