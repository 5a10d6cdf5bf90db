"""One inbound gateway request, read once: forwarded headers, body, model."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ollama_webmgr.gateway.relay import HOP_BY_HOP
from ollama_webmgr.gateway.stats import request_kind
from ollama_webmgr.inbound import raw_path

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

_NAME_ALIAS = frozenset({"/api/show", "/api/push", "/api/pull", "/api/delete"})
# Host: the upstream client sets the server's. Accept-Encoding: bodies must stay plain to be
# cut on line boundaries. Content-Length: recomputed from the body. Origin: CORS
# is the gateway's own decision (an upstream would judge it against its Host).
_NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length", "accept-encoding", "origin"}
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})  # until the body is read


@dataclass(slots=True)
class Call:
    """One inbound request: its head read by ``read_head`` before the key
    check and routing, the rest by ``read_body`` once it is let in."""

    environ: WSGIEnvironment
    method: str
    path: str
    origin: str | None  # a CORS request's
    authorization: str | None
    headers: Mapping[str, str]  # to forward: none until the body is read
    url_tail: str = ""  # path + query string, sent upstream as is
    body: bytes | Iterator[bytes] | None = None  # an iterator: blob upload, streamed
    data: Any = None  # parsed JSON body when it is an object
    model: str | None = None
    started: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)

    @property
    def kind(self) -> str:
        return request_kind(self.path)

    @property
    def size(self) -> int:
        return len(self.body) if isinstance(self.body, bytes) else 0


def read_head(environ: WSGIEnvironment) -> Call:
    """The request as the router needs it, from ``environ`` once."""
    return Call(
        environ,
        environ["REQUEST_METHOD"],
        environ.get("PATH_INFO") or "/",
        environ.get("HTTP_ORIGIN"),
        environ.get("HTTP_AUTHORIZATION"),
        _NO_HEADERS,
    )


def forward_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    """Client headers minus hop-by-hop ones; the upstream client sets Host."""
    connection = environ.get("HTTP_CONNECTION")
    named = {t.strip().lower() for t in connection.split(",")} if connection else set()
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = _header_name(key)
            if name not in _NOT_FORWARDED and name not in named:
                headers[name] = value
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    return headers


@functools.lru_cache(maxsize=512)
def _header_name(key: str) -> str:
    """``HTTP_X_OLLAMA_SESSION`` -> ``x-ollama-session`` (the same few, every time)."""
    return key[5:].replace("_", "-").lower()


class JSONTooDeep(Exception):
    """A request body whose JSON nests deeper than the parser's recursion."""


def read_body(call: Call, *, strip_auth: bool) -> None:
    """Read the rest of the request once: headers to forward, body, JSON, model.

    The path goes upstream as the client sent it (``%2F``, ``%3F``, ``%23``
    decoded would change its meaning there); routing uses the decoded one.
    """
    environ, path = call.environ, call.path
    query = environ.get("QUERY_STRING")
    raw = raw_path(environ)
    call.url_tail = f"{raw}?{query}" if query else raw
    call.headers = headers = forward_headers(environ)
    if strip_auth:
        headers.pop("authorization", None)  # the gateway's key, not Ollama's
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if path.startswith("/api/blobs/"):
        # streamed through, never held whole: by length, else chunked upstream
        if length.isdigit():
            headers["content-length"] = length
            call.body = _limited(stream, int(length))
        elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            call.body = _blocks(stream)
        return
    if length.isdigit():
        body = stream.read(int(length))
    elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        body = stream.read()
    else:
        body = b""  # no length and not chunked: no body (reading would block)
    call.body = body or None
    if body[:1] == b"{":
        # not JSON: forwarded untouched, Ollama words the error itself
        with contextlib.suppress(ValueError):
            call.data = _loads(body)
    call.model = _model_of(path, call.data)


def _loads(body: bytes) -> Any:
    try:
        return json.loads(body)
    except RecursionError:
        raise JSONTooDeep("invalid JSON: nested too deeply") from None


def _model_of(path: str, data: Any) -> str | None:
    if path.startswith("/v1/models/"):
        return path[len("/v1/models/") :] or None
    if not isinstance(data, dict):
        return None
    model = data.get("model")
    if not model and path in _NAME_ALIAS:
        model = data.get("name")
    return model if isinstance(model, str) and model else None


def _blocks(stream: Any, block: int = 65536) -> Iterator[bytes]:
    """A chunked upload, by blocks, until its end."""
    while data := stream.read(block):
        yield data


def _limited(stream: Any, length: int, block: int = 65536) -> Iterator[bytes]:
    """Exactly ``length`` bytes of the input, by blocks: some servers' inputs
    do not stop at the request's end by themselves."""
    left = length
    while left > 0:
        data = stream.read(min(block, left))
        if not data:
            return
        left -= len(data)
        yield data
