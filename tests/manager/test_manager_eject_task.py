"""The ``eject_force`` task against a node that never lets the model go."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from ollama_webmgr.errors import EjectFailed, OllamaNotFound
from ollama_webmgr.jobs.eject_task import eject_force
from ollama_webmgr.sim.serve import serve_in_thread

LOADED = {
    "name": "smollm2:135m",
    "model": "smollm2:135m",
    "size": 100,
    "size_vram": 100,
    "digest": "ab" * 32,
    "details": {},
    "expires_at": "2318-01-01T00:00:00Z",
    "context_length": 4096,
}


class StubbornNode:
    """Answers every unload 'done' but keeps listing the model in /api/ps."""

    def __init__(self) -> None:
        self.unloads = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/api/generate":
            model = json.loads(request.get_data())["model"]
            if model != LOADED["name"]:
                body = {"error": f"model '{model}' not found"}
                return _json(body, 404)(environ, start_response)
            self.unloads += 1
            body = {
                "model": model,
                "response": "",
                "done": True,
                "done_reason": "unload",
            }
            return _json(body)(environ, start_response)
        return _json({"models": [LOADED]})(environ, start_response)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class Recorder:
    job_id = "test"

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def report(self, type: str, data: dict[str, Any]) -> None:
        self.events.append((type, data))

    def cancelled(self) -> bool:
        return False

    def check_cancelled(self) -> None:
        return None


@pytest.fixture
def stubborn() -> Iterator[tuple[StubbornNode, str]]:
    node = StubbornNode()
    with serve_in_thread(node) as server:
        yield node, server.url


def test_forced_eject_fails_clearly_when_the_model_stays_loaded(
    stubborn: tuple[StubbornNode, str],
) -> None:
    node, url = stubborn
    ctx = Recorder()
    started = time.monotonic()
    with pytest.raises(EjectFailed, match="still loaded"):
        eject_force({"server_url": url, "model": "smollm2:135m", "timeout": 0.6}, ctx)
    assert 0.5 <= time.monotonic() - started < 1.5
    assert node.unloads >= 3  # it kept trying, every POLL_INTERVAL
    assert [data["status"] for _, data in ctx.events].count("unloading") == node.unloads


def test_forced_eject_of_a_model_missing_on_the_node_stops_at_once(
    stubborn: tuple[StubbornNode, str],
) -> None:
    _, url = stubborn
    started = time.monotonic()
    with pytest.raises(OllamaNotFound):
        eject_force({"server_url": url, "model": "llama3.2:1b"}, Recorder())
    assert time.monotonic() - started < 0.5
