"""Responses shaped like Ollama's: JSON, NDJSON streams, plain-text errors."""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.wrappers import Response

from ollama_webmgr.sim.faults import Faults
from ollama_webmgr.sim.wire import go_json

JSON = "application/json; charset=utf-8"
NDJSON = "application/x-ndjson"
TEXT = "text/plain; charset=utf-8"


def json_response(
    body: object, status: int = 200, content_type: str = JSON
) -> Response:
    return Response(go_json(body), status=status, content_type=content_type)


def error_response(message: str, status: int) -> Response:
    return json_response({"error": message}, status)


def text_response(text: str, status: int) -> Response:
    return Response(text, status=status, content_type=TEXT)


def empty_response(status: int = 200) -> Response:
    return Response(b"", status=status, content_type=None)


def drop_connection(environ: dict[str, Any]) -> None:
    sock = environ.get("werkzeug.socket") or environ.get("sim.socket")
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
    # Servers treat ECONNRESET as "client went away" and close quietly.
    raise ConnectionResetError(errno.ECONNRESET, "connection dropped by fault")


def never_gone(timeout: float) -> bool:
    """``client_gone`` of a request without a socket: waits, never gone."""
    time.sleep(timeout)
    return False


def client_gone(environ: dict[str, Any]) -> Callable[[float], bool]:
    """Wait up to ``timeout`` s for the request's client to close its connection
    (at once when it does); True when it has. Go cancels a handler's context
    then, which stops an Ollama pull."""
    sock = environ.get("werkzeug.socket") or environ.get("sim.socket")
    if not isinstance(sock, socket.socket):
        return never_gone

    def gone(timeout: float) -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], timeout)
            if not readable:
                return False
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                return True
        except BlockingIOError:
            return False
        except (OSError, ValueError):  # ValueError: the socket is closed already
            return True
        time.sleep(timeout)  # bytes of a next request: the client is still there
        return False

    return gone


def faulty_lines(
    lines: Iterable[bytes], faults: Faults, environ: dict[str, Any]
) -> Iterator[bytes]:
    """Apply the stream faults (drop after N lines, one malformed line)."""
    drop_after, malformed_after = faults.drop_after, faults.malformed_after
    sent = 0
    iterator = iter(lines)
    try:
        for line in iterator:
            if drop_after is not None and sent >= drop_after:
                drop_connection(environ)
            if malformed_after is not None and sent == malformed_after:
                yield b'{"status":"truncated\n'
            yield line
            sent += 1
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def ndjson_response(
    objects: Iterable[object], faults: Faults, environ: dict[str, Any]
) -> Response:
    """A chunked NDJSON stream, one object per line, flushed per line."""
    lines = (go_json(item) + b"\n" for item in objects)
    return Response(
        Closing(faulty_lines(lines, faults, environ), objects),
        status=200,
        content_type=NDJSON,
        direct_passthrough=True,
    )


class Closing:
    """Iterate ``lines``; closing it closes ``source`` too, even if never started.

    Closing the response must close the source: a pull stops, a runner is
    released. (A generator that never ran would skip its ``finally``.)
    """

    def __init__(self, lines: Iterator[bytes], source: object) -> None:
        self._lines = lines
        self._source = source

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._lines)

    def close(self) -> None:
        for part in (self._lines, self._source):
            close = getattr(part, "close", None)
            if close is not None:
                close()
