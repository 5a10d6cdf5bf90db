"""The gateway's one route table: which handler answers a request.

``route_of(method, path)`` looks up ``ROUTES`` by ``(method, path)``, then by
the path alone (a route taken whatever the method), then the two path
prefixes (``/v1/models/<model>``, ``/api/blobs/<digest>``); anything else is
relayed to any usable server, which answers as Ollama does. Each handler is
a function of ``(gate, call, start_response)`` (``gate.Handler``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ollama_webmgr.gateway import about, listings, one_server
from ollama_webmgr.gateway.by_model import by_model
from ollama_webmgr.gateway.writes import write

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.calls import Call
    from ollama_webmgr.gateway.gate import Gate, Handler


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    #: answered before the API key check
    public: bool = False
    #: the handler reads the request's body, JSON and model (``calls.read_body``)
    reads_body: bool = True


def to_any_server(
    gate: Gate, call: Call, start_response: StartResponse
) -> Iterable[bytes]:
    """A route the gateway adds nothing to: any usable server answers."""
    return gate.relay(call, gate.views(None), start_response)


BY_MODEL = Route(by_model)
TO_ONE_SERVER = Route(one_server.to_one_server)
TO_ANY_SERVER = Route(to_any_server)
WRITE = Route(write)

#: ``(method, path)``, or a path alone for every method not listed with it
ROUTES: dict[tuple[str, str] | str, Route] = {
    # the gateway itself (about.py)
    ("GET", "/"): Route(about.running, public=True, reads_body=False),
    ("HEAD", "/"): Route(about.running, public=True, reads_body=False),
    ("GET", "/metrics"): Route(about.metrics, reads_body=False),
    # the whole fleet's answers (listings.py)
    ("GET", "/api/tags"): Route(listings.tags),
    ("HEAD", "/api/tags"): Route(listings.tags),
    ("GET", "/api/ps"): Route(listings.running),
    ("GET", "/api/version"): Route(listings.version),
    ("HEAD", "/api/version"): Route(listings.version),
    ("GET", "/v1/models"): Route(listings.openai_models),
    # writes on every usable (or named) server, read back at once (writes.py)
    ("POST", "/api/pull"): WRITE,
    ("DELETE", "/api/delete"): WRITE,
    ("POST", "/api/copy"): WRITE,
    ("POST", "/api/create"): Route(one_server.create),
    "/api/create": TO_ONE_SERVER,
    ("POST", "/api/push"): Route(one_server.push),
    # the body names the model: to the servers that have it (by_model.py)
    "/api/generate": BY_MODEL,
    "/api/chat": BY_MODEL,
    "/api/embed": BY_MODEL,
    "/api/embeddings": BY_MODEL,
    "/api/show": BY_MODEL,
    "/api/push": BY_MODEL,
    "/v1/chat/completions": BY_MODEL,
    "/v1/completions": BY_MODEL,
    "/v1/embeddings": BY_MODEL,
    "/v1/responses": BY_MODEL,
    "/v1/messages": BY_MODEL,
}


def route_of(method: str, path: str) -> Route:
    """The route of a request: one or two dict lookups, no pattern matching."""
    route = ROUTES.get((method, path)) or ROUTES.get(path)
    if route is not None:
        return route
    if path.startswith("/v1/models/"):  # the model is the rest of the path
        return BY_MODEL
    if path.startswith("/api/blobs/"):  # uploads: to where the create will run
        return TO_ONE_SERVER
    return TO_ANY_SERVER
