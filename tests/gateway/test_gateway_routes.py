"""The gateway's one route table, and a handler run against a ``Gate`` of its own.

``routes.route_of`` is what the WSGI entry dispatches on: these cases are the
routing the gateway had before it had one table (method-specific routes first,
then a path taken whatever the method, then the two prefixes, then any server).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import pytest

from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.gateway import about, listings, one_server, routes
from ollama_webmgr.gateway.balancer import ServerView
from ollama_webmgr.gateway.by_model import by_model
from ollama_webmgr.gateway.calls import Call
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.sticky import StickyTable
from ollama_webmgr.gateway.writes import write

ANY = routes.to_any_server


@pytest.mark.parametrize(
    ("method", "path", "handler"),
    [
        ("GET", "/", about.running),
        ("HEAD", "/", about.running),
        ("GET", "/metrics", about.metrics),
        ("GET", "/api/tags", listings.tags),
        ("HEAD", "/api/tags", listings.tags),
        ("GET", "/api/ps", listings.running),
        ("GET", "/api/version", listings.version),
        ("HEAD", "/api/version", listings.version),
        ("GET", "/v1/models", listings.openai_models),
        ("POST", "/api/pull", write),
        ("DELETE", "/api/delete", write),
        ("POST", "/api/copy", write),
        ("POST", "/api/create", one_server.create),
        ("GET", "/api/create", one_server.to_one_server),
        ("POST", "/api/blobs/sha256:abc", one_server.to_one_server),
        ("HEAD", "/api/blobs/sha256:abc", one_server.to_one_server),
        ("POST", "/api/push", one_server.push),
        ("PUT", "/api/push", by_model),
        ("POST", "/api/chat", by_model),
        ("GET", "/api/generate", by_model),
        ("POST", "/v1/chat/completions", by_model),
        ("POST", "/v1/messages", by_model),
        ("GET", "/v1/models/llama3.2", by_model),
        ("POST", "/", ANY),
        ("HEAD", "/metrics", ANY),
        ("GET", "/api/pull", ANY),
        ("POST", "/api/delete", ANY),
        ("POST", "/api/unknown-route", ANY),
        ("GET", "/v1/models/", by_model),
    ],
)
def test_each_request_has_one_route(method: str, path: str, handler: Any) -> None:
    assert routes.route_of(method, path).handler is handler


def test_only_the_root_skips_the_key_and_only_the_gateways_own_skip_the_body():
    public = {key for key, route in routes.ROUTES.items() if route.public}
    assert public == {("GET", "/"), ("HEAD", "/")}
    bodiless = {key for key, route in routes.ROUTES.items() if not route.reads_body}
    assert bodiless == {("GET", "/"), ("HEAD", "/"), ("GET", "/metrics")}


class OneServerGate:
    """A ``Gate`` over one healthy server whose models are listed: what
    ``by_model`` uses of the gateway, and nothing else."""

    def __init__(self, models: list[str]) -> None:
        self.config = GatewayConfig()
        self.models = ModelMap()
        self.models.update("a", tags=[{"name": m, "model": m} for m in models])
        self.sticky = StickyTable()
        self.turns = itertools.count()
        self.relayed: list[list[str]] = []
        self.errors: list[tuple[int, str]] = []

    def views(self, model: str | None, only: Iterable[str] | None = None):
        having = self.models.servers_with(model) if model else {"a"}
        return [ServerView("a", "http://a", has_model="a" in having)]

    def usable_servers(self) -> list[Any]:
        return []

    def recheck(self, servers: Iterable[Any]) -> bool:
        return False

    def relay(self, call, ranked, start_response, **kw: Any) -> list[bytes]:
        self.relayed.append([v.name for v in ranked])
        return [b"relayed"]

    def error(self, call, start_response, status, message, headers=None, **kw):
        self.errors.append((status, message))
        return [message.encode()]


def _call(path: str, model: str) -> Call:
    call = Call({}, "POST", path, None, None, {})
    call.model, call.data = model, {"model": model}
    return call


def test_a_handler_needs_only_its_gate_to_route_by_model() -> None:
    gate = OneServerGate(["llama3.2:latest"])
    assert by_model(gate, _call("/api/chat", "llama3.2"), print) == [b"relayed"]
    assert gate.relayed == [["a"]]
    by_model(gate, _call("/api/embed", "qwen3"), print)
    by_model(gate, _call("/api/show", "qwen3"), print)
    assert gate.errors == [
        (404, 'model "qwen3" not found, try pulling it first'),
        (404, "model 'qwen3:latest' not found"),
    ]
