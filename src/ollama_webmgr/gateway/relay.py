"""Forward one request to one server and relay the answer as it arrives.

``open_upstream`` sends the request and reads up to the first chunk of the
body: any failure until then (connection error, timeout, 5xx) raises
``UpstreamFailure`` so the caller can try the next server. ``relay_body`` then
yields the body, cut on line (NDJSON) or event (SSE) boundaries so a client
never receives half a line; if the upstream fails after that, the client gets a
final ``{"error": ...}`` line (an SSE error event for ``/v1/*``) and the stream
ends. The upstream response is closed in ``finally``, so a client that goes
away frees its upstream connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ollama_webmgr.gateway.upstream import (
    ConnectFailed,
    Response,
    Timeouts,
    Upstream,
    UpstreamProtocolError,
)

HOP_BY_HOP = frozenset(
    [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    ]
)
Framing = Literal["ndjson", "sse", "raw"]
TAIL_LIMIT = 256 * 1024
WHOLE_LIMIT = 256 * 1024  # a body that is not a stream is held up to this size
_SEPARATORS: dict[Framing, bytes] = {"ndjson": b"\n", "sse": b"\n\n"}


FailureKind = Literal["connect", "timeout", "protocol", "status"]


class UpstreamFailure(Exception):
    """A failure before the first byte reached the client: worth another server.

    ``protocol``: the answer was malformed (502, like ``connect``).
    """

    def __init__(self, kind: FailureKind, message: str, **answer: Any) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message
        self.status: int | None = answer.get("status")
        self.headers: list[tuple[str, str]] = answer.get("headers", [])
        self.body: bytes = answer.get("body", b"")


@dataclass
class Opened:
    status: int
    headers: list[tuple[str, str]]
    first: bytes
    chunks: Iterator[bytes]
    response: Response
    framing: Framing


@dataclass
class Outcome:
    """What the relay saw, for the request record."""

    bytes_out: int = 0
    tail: bytes = b""  # last lines or events, or a small whole body: final stats
    error: str | None = None


def open_upstream(
    upstream: Upstream,
    url: str,
    method: str,
    headers: Mapping[str, str],
    body: bytes | Iterator[bytes] | None,
    timeouts: Timeouts,
) -> Opened:
    """Send the request (``url``: path and query); raise UpstreamFailure for
    anything retryable."""
    try:
        response = upstream.request(method, url, headers, body, timeouts)
    except OSError as exc:
        raise _failure(exc, "") from None
    out_headers = end_to_end_headers(response)
    framing = _framing(response)
    try:
        chunks = response.chunks()
        if response.status >= 500:
            whole = _held(response, chunks, 0)
            if not response.complete:
                raise UpstreamProtocolError(
                    f"a {response.status} answer longer than {WHOLE_LIMIT} bytes"
                )
            response.release()
            raise UpstreamFailure(
                "status",
                f"answered {response.status}",
                status=response.status,
                headers=out_headers,
                body=whole,
            )
        # a stream is committed at its first line; any other body is checked
        # whole when small, so a broken one is still a clean 502
        first = _held(response, chunks, 1 if framing != "raw" else 0)
    except OSError as exc:
        response.close()
        raise _failure(exc, " before the first byte") from None
    return Opened(response.status, out_headers, first, chunks, response, framing)


def _held(response: Response, chunks: Iterator[bytes], pieces: int) -> bytes:
    """The first ``pieces`` of the body (0: up to its end or ``WHOLE_LIMIT``)."""
    held: list[bytes] = []
    size = 0
    while not response.complete and size < WHOLE_LIMIT:
        piece = next(chunks, None)
        if piece is None:
            break
        held.append(piece)
        size += len(piece)
        if len(held) == pieces:
            break
    return b"".join(held)


def _failure(exc: OSError, when: str) -> UpstreamFailure:
    if isinstance(exc, TimeoutError):
        return UpstreamFailure("timeout", f"timed out{when}: {exc}")
    if isinstance(exc, UpstreamProtocolError):
        return UpstreamFailure("protocol", f"sent a malformed answer{when} ({exc})")
    if isinstance(exc, ConnectFailed):
        return UpstreamFailure("connect", str(exc))
    return UpstreamFailure("connect", f"connection failed{when}: {exc}")


def end_to_end_headers(response: Response) -> list[tuple[str, str]]:
    """The answer's headers minus hop-by-hop ones and those its Connection names."""
    named = response.connection
    return [
        (k, v)
        for k, v in response.headers
        if k.lower() not in HOP_BY_HOP and k.lower() not in named
    ]


def relay_body(opened: Opened, outcome: Outcome) -> Iterator[bytes]:
    """Yield the body frame by frame; on a late failure end with an error frame."""
    separator = _SEPARATORS.get(opened.framing)
    pending = b""
    finished = False
    try:
        for chunk in _prepend(opened.first, opened.chunks):
            if separator is None:
                outcome.bytes_out += len(chunk)
                if len(outcome.tail) + len(chunk) <= TAIL_LIMIT:
                    outcome.tail += chunk  # a small whole body: its stats are read
                yield chunk
                continue
            data = pending + chunk if pending else chunk
            cut = data.rfind(separator) + len(separator)
            if cut < len(separator):
                pending = data
                continue
            pending, frame = data[cut:], data[:cut]
            if not frame.startswith(b"data: [DONE]"):
                outcome.tail = frame
            outcome.bytes_out += len(frame)
            yield frame
        if pending:
            outcome.bytes_out += len(pending)
            yield pending
        finished = True
    except OSError as exc:
        outcome.error = f"upstream stream failed: {exc}"
        if separator is None:
            raise  # no way to signal it in-band: abort the client connection
        yield error_frame(opened.framing, outcome.error)
    finally:
        if finished:
            opened.response.release()
        else:  # client gone or upstream broken: never reuse this connection
            opened.response.close()


def error_frame(framing: Framing, message: str) -> bytes:
    if framing == "sse":
        error = {"message": message, "type": "api_error", "param": None, "code": None}
        return b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
    return json.dumps({"error": message}).encode() + b"\n"


def _framing(response: Response) -> Framing:
    if response.header("content-length") is not None:
        return "raw"  # a fixed length cannot take an extra error line
    kind = response.header("content-type") or ""
    if kind.startswith("application/x-ndjson"):
        return "ndjson"
    return "sse" if kind.startswith("text/event-stream") else "raw"


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest
