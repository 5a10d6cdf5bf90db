"""HTTP-level pieces of the Ollama client: error mapping, NDJSON lines, streams."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from ollama_webmgr.closeable import Closeable
from ollama_webmgr.errors import (
    OllamaBadRequest,
    OllamaError,
    OllamaNotFound,
    OllamaServerError,
    OllamaStreamError,
    OllamaTimeout,
    OllamaUnreachable,
)

T = TypeVar("T")

#: a stream line longer than this is refused rather than buffered without end
MAX_LINE_BYTES = 16 * 1024 * 1024
_STATUS_ERRORS: dict[int, type[OllamaError]] = {
    400: OllamaBadRequest,
    404: OllamaNotFound,
}


class LineTooLong(ValueError):
    """A stream line grew past ``MAX_LINE_BYTES`` without a newline."""


def split_lines(
    chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES
) -> Iterator[bytes]:
    r"""Cut a byte stream into lines on ``\n`` only, as each line completes.

    httpx's ``iter_lines`` follows ``str.splitlines`` and would also cut on
    characters such as U+0085 that Go's JSON encoder leaves unescaped inside
    strings, so NDJSON is split here at the byte level.

    >>> list(split_lines([b'{"a":1}\n{"b"', b':"\xc2\x85"}\n', b'{"c":3}']))
    [b'{"a":1}', b'{"b":"\xc2\x85"}', b'{"c":3}']
    >>> list(split_lines([b"x" * 5], max_line=4))
    Traceback (most recent call last):
    ...
    ollama_webmgr.ollama.wire.LineTooLong: a stream line exceeds 4 bytes
    """
    buffer = bytearray()
    for chunk in chunks:
        searched = len(buffer)
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", searched)) >= 0:
            yield bytes(buffer[start:end])
            start = searched = end + 1
        del buffer[:start]
        if len(buffer) > max_line:
            raise LineTooLong(f"a stream line exceeds {max_line} bytes")
    if buffer:
        yield bytes(buffer)


def decode_line(line: bytes, server: str) -> dict[str, Any] | None:
    r"""One NDJSON line as an object; ``None`` for a blank line.

    >>> decode_line(b'{"status":"success"}\r', "http://h:1")
    {'status': 'success'}
    >>> decode_line(b'{"status":', "http://h:1")
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.OllamaStreamError: malformed stream line (not JSON): '{"status":' (status -1) [http://h:1]
    >>> decode_line(b'{"error":"pull model manifest: file does not exist"}', "s")
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.OllamaStreamError: pull model manifest: file does not exist (status -1) [s]
    """
    text = line.strip()
    if not text:
        return None  # Ollama never sends one; tolerating it costs nothing
    try:
        data = json.loads(text)
    except ValueError:
        shown = text[:80].decode("utf-8", "replace")
        raise OllamaStreamError(
            f"malformed stream line (not JSON): {shown!r}", status=-1, server=server
        ) from None
    if not isinstance(data, dict):
        raise OllamaStreamError(
            f"malformed stream line (not a JSON object): {type(data).__name__}",
            status=-1,
            server=server,
        )
    error = data.get("error")
    if error:
        raise OllamaStreamError(str(error), status=-1, server=server)
    return data


def parse_with_server(
    parse: Callable[[Mapping[str, Any]], T], data: Mapping[str, Any], server: str
) -> T:
    """Run a payload parser, naming ``server`` in its error."""
    try:
        return parse(data)
    except OllamaServerError as exc:
        raise OllamaServerError(exc.message, server=server) from None


def iter_ndjson(
    response: httpx.Response,
    parse: Callable[[Mapping[str, Any]], T],
    finished: Callable[[T], bool],
    server: str,
) -> Iterator[T]:
    """Typed items of an NDJSON answer, each as soon as its line is complete.

    A stream that ends before an item satisfying ``finished`` (a cut
    connection, a proxy that gave up) raises ``OllamaStreamError``.
    """
    done = False
    try:
        for line in split_lines(response.iter_bytes()):
            data = decode_line(line, server)
            if data is not None:
                item = parse_with_server(parse, data, server)
                done = finished(item)
                yield item
    except LineTooLong as exc:
        raise OllamaStreamError(str(exc), status=-1, server=server) from None
    if not done:
        raise OllamaStreamError(
            f"the stream of {response.request.url.path} ended before completion",
            status=-1,
            server=server,
        )


def error_message(response: httpx.Response) -> str:
    """Ollama's own words for a failed answer: the body's ``error`` or its text."""
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str) and error:
            return error
        # OpenAI-shaped errors, e.g. from a gateway in front of Ollama
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    if text:
        return text if len(text) <= 500 else text[:500] + "..."
    return f"HTTP {response.status_code} {response.reason_phrase} with an empty body"


def status_error(response: httpx.Response, server: str) -> OllamaError:
    """The exception for a non-2xx answer (its body must have been read)."""
    cls = _STATUS_ERRORS.get(response.status_code, OllamaServerError)
    return cls(error_message(response), status=response.status_code, server=server)


def transport_error(exc: httpx.HTTPError, server: str) -> OllamaError:
    """Map an httpx failure (no usable HTTP answer) to our tree."""
    if isinstance(exc, httpx.TimeoutException):
        return OllamaTimeout(_timeout_message(exc), server=server)
    if isinstance(exc, httpx.TransportError):
        return OllamaUnreachable(f"cannot reach Ollama: {exc}", server=server)
    return OllamaServerError(f"unusable answer from Ollama: {exc}", server=server)


def _timeout_message(exc: httpx.TimeoutException) -> str:
    phase = {
        httpx.ConnectTimeout: ("connect", "could not connect"),
        httpx.ReadTimeout: ("read", "no data received"),
        httpx.WriteTimeout: ("write", "could not send the request"),
        httpx.PoolTimeout: ("pool", "no free connection"),
    }.get(type(exc), ("read", "no answer"))
    seconds: object = None
    with contextlib.suppress(RuntimeError):  # no request attached to exc
        seconds = exc.request.extensions.get("timeout", {}).get(phase[0])
    within = f" within {seconds:g} s" if isinstance(seconds, int | float) else ""
    return f"timed out: {phase[1]}{within}"


class Cutter:
    """The response a stream reads, so that another thread can cut it short.

    ``close()`` from another thread would not wake a read blocked in ``recv``;
    shutting the socket down does (the read sees the end of the stream, or an
    error under gevent), so the reader fails at once with a transport error.
    A cut asked before the answer arrived applies as soon as it does.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: httpx.Response | None = None
        self._cut = False

    def attach(self, response: httpx.Response) -> None:
        with self._lock:
            self._response = response
            if self._cut:
                _shut_down(response)

    def detach(self) -> None:
        with self._lock:
            self._response = None

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            if self._response is not None:
                _shut_down(self._response)


def _shut_down(response: httpx.Response) -> None:
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    if isinstance(sock, socket.socket):  # no socket: an in-process transport
        with contextlib.suppress(OSError):  # already closed by the peer
            sock.shutdown(socket.SHUT_RDWR)


class Stream(Iterator[T], Closeable):
    """An iterator over a streamed answer that always closes its HTTP response.

    The request is sent on the first ``next()``. Leaving a ``for`` loop early
    and dropping the stream, calling ``close()`` or leaving a ``with`` block
    all close the underlying connection; ``abort()`` ends it from another
    thread, even while a read waits for a line that never comes.
    """

    def __init__(
        self, generator: Generator[T, None, None], cutter: Cutter | None = None
    ) -> None:
        self._generator = generator
        self._cutter = cutter or Cutter()

    def abort(self) -> None:
        """Cut the connection (thread-safe): the reader fails with an ``OllamaError``."""
        self._cutter.cut()

    def __iter__(self) -> Stream[T]:
        return self

    def __next__(self) -> T:
        return next(self._generator)

    def close(self) -> None:
        self._generator.close()
