"""Responses the gateway makes itself, in Ollama's and OpenAI's error shapes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse

    from ollama_webmgr.gateway.relay import Opened

Headers = list[tuple[str, str]]
JSON = "application/json; charset=utf-8"
_REASONS = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}


def status_line(status: int) -> str:
    """``'404 Not Found'``; Ollama's 499 and other unknown codes get a generic phrase.

    >>> status_line(429), status_line(499)
    ('429 Too Many Requests', '499 Unknown')
    """
    return _REASONS.get(status) or f"{status} Unknown"


def send(
    start_response: StartResponse,
    status: int,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (),
    *,
    content_type: str = JSON,
    head: bool = False,
) -> Iterable[bytes]:
    all_headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        *headers,
    ]
    start_response(status_line(status), all_headers)
    return [] if head else [body]


def send_json(
    start_response: StartResponse,
    status: int,
    data: Any,
    headers: Sequence[tuple[str, str]] = (),
    *,
    head: bool = False,
) -> Iterable[bytes]:
    # Ollama's Go encoder writes compact JSON with no trailing newline.
    body = json.dumps(data, separators=(",", ":")).encode()
    return send(start_response, status, body, headers, head=head)


def openai_error_body(status: int, message: str) -> dict[str, Any]:
    """OpenAI-shaped error, typed from the status as Ollama's middleware does.

    >>> openai_error_body(404, "model 'x' not found")["error"]["type"]
    'not_found_error'
    """
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(
        status, "api_error"
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def send_error(
    start_response: StartResponse,
    path: str,
    status: int,
    message: str,
    headers: Sequence[tuple[str, str]] = (),
) -> Iterable[bytes]:
    """``{"error": "..."}``, or the OpenAI shape under ``/v1/``."""
    return send_json(start_response, status, error_body(path, status, message), headers)


def send_bug(start_response: StartResponse, path: str) -> Iterable[bytes]:
    """A bug in the gateway still answers in Ollama's shape: a 500 (call it
    where the exception is handled: the server sees it in ``exc_info``)."""
    message = "internal error in the gateway"
    body = json.dumps(error_body(path, 500, message)).encode()
    headers = [("Content-Type", JSON), ("Content-Length", str(len(body)))]
    start_response(status_line(500), headers, sys.exc_info())
    return [body]


def error_body(path: str, status: int, message: str) -> dict[str, Any]:
    """``{"error": "..."}``, or the OpenAI shape under ``/v1/``."""
    if path.startswith("/v1/"):
        return openai_error_body(status, message)
    return {"error": message}


def not_found_message(path: str, model: str, display: str) -> str:
    """Ollama's wording for a missing model, which differs per endpoint.

    >>> not_found_message("/api/embed", "x", "x:latest")
    'model "x" not found, try pulling it first'
    >>> not_found_message("/api/show", "x", "x:latest")
    "model 'x:latest' not found"
    """
    if path in ("/api/embed", "/api/embeddings", "/v1/embeddings"):
        return f'model "{model}" not found, try pulling it first'
    if path == "/api/show" or path.startswith("/v1/models/"):
        return f"model '{display}' not found"
    return f"model '{model}' not found"


class Closing:
    """A response iterable that runs ``on_close`` once when the server closes it.

    WSGI servers always call ``close()``, even when the client left before the
    first chunk, which a generator's ``finally`` would miss.
    """

    def __init__(self, inner: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._inner = inner
        self._on_close: Callable[[], None] | None = on_close

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            if self._on_close is not None:
                on_close, self._on_close = self._on_close, None
                on_close()


class RelayedBody:
    """The response iterable; ``close`` (always called by the server) cleans up."""

    def __init__(
        self, inner: Iterator[bytes], opened: Opened, done: Callable[[], None]
    ) -> None:
        self._inner = inner
        self._opened = opened
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return self._inner

    def close(self) -> None:
        try:
            self._inner.close()  # type: ignore[attr-defined]
        finally:
            # a no-op once the relay handed the connection back; otherwise
            # (never started, client gone, upstream broken) it is dropped
            self._opened.response.close()
            if self._done is not None:
                done, self._done = self._done, None
                done()


_REFUSALS = {
    400: "bad request",
    403: "forbidden: this Host is not allowed (ALLOWED_HOSTS)",
    413: "request body too large (MAX_BODY_SIZE)",
}


def refusal(
    environ: dict[str, Any], start_response: StartResponse, status: int
) -> Iterable[bytes]:
    """What ``inbound.Guard`` answers on the gateway port, in Ollama's shape."""
    path = str(environ.get("PATH_INFO") or "/")
    message = _REFUSALS.get(status) or status_line(status)
    return send_error(start_response, path, status, message)
