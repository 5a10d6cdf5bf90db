"""Helpers shared by the Ollama client tests (imported by basename)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

SERVER = "http://node-a:11434"
Handler = Callable[[httpx.Request], httpx.Response]


def ndjson(*objects: dict[str, Any]) -> bytes:
    """Objects as Ollama streams them: one compact JSON document per line."""
    return b"".join(
        json.dumps(o, separators=(",", ":")).encode() + b"\n" for o in objects
    )


class TrackedStream(httpx.SyncByteStream):
    """A response body that records how far it was read and whether it was closed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent = 0
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.sent += 1
            yield chunk

    def close(self) -> None:
        self.closed = True


class CountingTransport(httpx.BaseTransport):
    """Delegates to a real transport and remembers every request it carried."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.inner.handle_request(request)
