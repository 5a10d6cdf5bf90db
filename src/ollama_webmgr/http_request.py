"""Inbound requests parsed by llhttp (``httptools``), for ``http_server``.

llhttp is Node's HTTP parser, fuzzed by the whole industry and strict by
default: it refuses what request smuggling relies on (``Content-Length`` with
``Transfer-Encoding``, repeated or signed lengths, obs-fold, bare CR or LF
line ends, lenient chunk lines, oversized chunk sizes). Our code adds what a
parser leaves to its server: limits on the head, the HTTP versions served, the
``Host`` rules of RFC 9112 §3.2, and the blocking, pull-style ``wsgi.input``
that WSGI apps expect on top of llhttp's push-style callbacks.

A connection feeds the bytes it receives to one ``Parser``; each request is a
``Message`` whose head is complete once ``head_done`` is set, and whose body
bytes pile up in ``body`` until the app reads them. Pipelined requests parsed
early wait in ``Parser.messages``: the connection only receives more bytes
when the request being served needs them, so at most one read's worth of a
later request is ever held.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

import httptools

if TYPE_CHECKING:
    from collections.abc import Callable

MAX_REQUEST_LINE = 8192  # the request target, in bytes
MAX_HEADER_BYTES = 65536  # names and values of one head
MAX_HEADERS = 100
_VERSIONS = {"1.1": "HTTP/1.1", "1.0": "HTTP/1.0"}
# RFC 3986 host (reg-name or IPv4, or an IPv6 literal in brackets) and a port
_HOST = re.compile(rb"(?:[A-Za-z0-9\-._~!$&'()*+,;=%]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?")


class Refused(Exception):
    """A request answered with ``status`` by the server itself, then closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Message:
    """One request as llhttp reports it."""

    __slots__ = (
        "body",
        "complete",
        "head_done",
        "head_size",
        "headers",
        "hosts",
        "method",
        "protocol",
        "received",
        "target",
        "upgrade",
    )

    def __init__(self) -> None:
        self.target = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_size = 0
        self.hosts = 0
        self.method = ""
        self.protocol = ""
        self.head_done = False
        self.body = bytearray()
        self.received = 0  # body bytes, all told
        self.complete = False
        self.upgrade = False


class Parser:
    """llhttp's callbacks, collected into ``Message`` objects."""

    def __init__(self) -> None:
        self.messages: deque[Message] = deque()
        self.error: Refused | None = None  # the stream is unusable past this
        self._current = Message()
        self._llhttp = httptools.HttpRequestParser(self)

    def feed(self, data: bytes) -> None:
        """Parse ``data``; a broken stream sets ``error`` (nothing raised)."""
        try:
            self._llhttp.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrade or CONNECT: not served; what follows stays unparsed
            self._current.upgrade = True
            self.error = Refused(400, "protocol upgrades are not supported")
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            self.error = cause if isinstance(cause, Refused) else _malformed(exc)
        except httptools.HttpParserError as exc:
            self.error = _malformed(exc)

    # --- llhttp callbacks ------------------------------------------------------
    def on_message_begin(self) -> None:
        self._current = Message()
        self.messages.append(self._current)

    def on_url(self, piece: bytes) -> None:
        message = self._current
        message.target += piece
        if len(message.target) > MAX_REQUEST_LINE:
            raise Refused(414, "request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        message = self._current
        message.head_size += len(name) + len(value) + 4
        if message.head_size > MAX_HEADER_BYTES:
            raise Refused(431, "request header section too large")
        if len(message.headers) >= MAX_HEADERS:
            raise Refused(431, "too many request headers")
        if len(name) == 4 and name.lower() == b"host":
            message.hosts += 1
        message.headers.append((name, value))

    def on_headers_complete(self) -> None:
        message = self._current
        message.method = self._llhttp.get_method().decode("ascii")
        version = self._llhttp.get_http_version()
        protocol = _VERSIONS.get(version)
        if protocol is None:
            if version == "0.9":  # a request line without a version
                raise Refused(400, "malformed request line")
            raise Refused(505, "only HTTP/1.0 and HTTP/1.1 are supported")
        message.protocol = protocol
        _check_host(message)
        message.head_done = True

    def on_body(self, data: bytes) -> None:
        message = self._current
        message.body += data
        message.received += len(data)

    def on_message_complete(self) -> None:
        self._current.complete = True


def _malformed(exc: Exception) -> Refused:
    if isinstance(exc, httptools.HttpParserInvalidMethodError):
        return Refused(400, "malformed request line or unknown method")
    return Refused(400, f"malformed request: {str(exc)[:100]}")


def _check_host(message: Message) -> None:
    """RFC 9112 §3.2: exactly one valid ``Host`` in HTTP/1.1, at most one in 1.0."""
    if message.hosts > 1:
        raise Refused(400, "more than one Host header")
    if message.hosts == 0:
        if message.protocol == "HTTP/1.1":
            raise Refused(400, "missing Host header")
        return
    value = next(v for n, v in message.headers if n.lower() == b"host")
    if not _HOST.fullmatch(value):
        raise Refused(400, "invalid Host header")


# --- environ ---------------------------------------------------------------------

# Header name (as sent) -> environ key; "" means dropped. Clients send the same
# few names every time: the translation is done once per name.
_KEYS: dict[bytes, str] = {}
_KEYS_MAX = 1024


def environ_key(name: bytes) -> str:
    """The environ key of a header name, "" for names that must be dropped.

    Names holding ``_`` are dropped, as pywsgi and gunicorn do, so that
    ``X_Forwarded_For`` cannot pose as ``X-Forwarded-For``.

    >>> [environ_key(n) for n in (b"Content-Type", b"x-ollama-session", b"X_Auth")]
    ['CONTENT_TYPE', 'HTTP_X_OLLAMA_SESSION', '']
    """
    key = _KEYS.get(name)
    if key is None:
        key = _translate(name)
        if len(_KEYS) < _KEYS_MAX:  # random names must not grow it forever
            _KEYS[name] = key
    return key


def _translate(name: bytes) -> str:
    if b"_" in name:
        return ""
    upper = name.decode("ascii").upper().replace("-", "_")
    if upper in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        return upper
    return "HTTP_" + upper


def add_headers(message: Message, environ: dict[str, Any]) -> None:
    """The headers into ``environ``, repeated names joined with ``, ``."""
    for name, value in message.headers:
        key = environ_key(name)
        if not key:
            continue
        # llhttp keeps trailing blanks; RFC 9110 §5.5: they are not the value
        text = value.decode("latin-1").rstrip(" \t")
        old = environ.get(key)
        environ[key] = text if old is None else f"{old}, {text}"


def split_target(target: bytes) -> tuple[str, str]:
    """``(PATH_INFO, QUERY_STRING)``: the path percent-decoded (PEP 3333), as
    latin-1 text. ``RAW_URI`` keeps the target as sent: the gateway forwards
    that, since ``%2F``, ``%3F`` or ``%23`` decoded would change the path's
    meaning for the server behind it.

    >>> split_target(b"/api/caf%C3%A9?q=a%20b")
    ('/api/cafÃ©', 'q=a%20b')
    >>> split_target(b"http://gateway:11434/api/tags")
    ('/api/tags', '')
    """
    if target[:1] != b"/":
        target = _origin_form(target)
    path, _, query = target.partition(b"?")
    if b"#" in query:
        query = query.partition(b"#")[0]
    elif b"#" in path:
        path = path.partition(b"#")[0]
    if b"%" in path:
        path = unquote_to_bytes(path)
    return path.decode("latin-1"), query.decode("latin-1")


def _origin_form(target: bytes) -> bytes:
    """The path of an absolute-form target (proxies)."""
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        raise Refused(400, "malformed request target")
    slash = rest.find(b"/")
    return rest[slash:] if slash >= 0 else b"/"


# --- request body (wsgi.input) -----------------------------------------------


class ClientDisconnected(ConnectionError):
    """The client went away (or stalled past the timeout) during a request."""


class InvalidBody(OSError):
    """The request body breaks its framing (e.g. a malformed chunk size)."""


class Body:
    """``wsgi.input``: this request's body only, never read past; chunked decoded.

    ``fill`` receives and parses more bytes from the connection (raising
    ``ClientDisconnected`` or ``InvalidBody``); ``on_first_read`` sends
    ``100 Continue`` when the client asked for it.
    """

    def __init__(
        self,
        message: Message,
        fill: Callable[[], None],
        on_first_read: Callable[[], None] | None = None,
    ) -> None:
        self._message = message
        self._buffer = message.body
        self._fill = fill
        self._on_first_read = None if message.complete else on_first_read

    # the file-like interface of PEP 3333
    def read(self, size: int | None = -1) -> bytes:
        self._first_read()
        buffer, message = self._buffer, self._message
        if size is None or size < 0:
            while not message.complete:
                self._fill()
            size = len(buffer)
        else:
            while len(buffer) < size and not message.complete:
                self._fill()
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    def readline(self, limit: int | None = -1) -> bytes:
        self._first_read()
        buffer, message = self._buffer, self._message
        if limit is None or limit < 0:
            limit = 1 << 62
        start = 0
        while (end := buffer.find(b"\n", start, limit)) < 0:
            if len(buffer) >= limit or message.complete:
                end = min(limit, len(buffer)) - 1
                break
            start = len(buffer)
            self._fill()
        data = bytes(buffer[: end + 1])
        del buffer[: end + 1]
        return data

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def _first_read(self) -> None:
        if self._on_first_read is not None:
            send, self._on_first_read = self._on_first_read, None
            send()

    # the server's side
    @property
    def waiting_for_continue(self) -> bool:
        """``100 Continue`` never sent: the body may never come."""
        return self._on_first_read is not None
