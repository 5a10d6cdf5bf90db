"""A lean HTTP/1.1 WSGI server on gevent's ``StreamServer``, for the gateway port.

Why: every request through the gateway pays its server's work twice (read the
request, write the response) on top of the relay itself. ``gevent.pywsgi``
parses headers with the ``email`` package, handles cases the gateway never
sees, and sends the response headers and the first body chunk in two packets:
about 0.12 ms added to each relayed request on our machines. This server does
the same job with a few bytes operations per header and one ``send`` for the
headers and the first chunk. The web app keeps ``pywsgi``.

What it supports (what real clients send: httpx, the OpenAI client, curl,
browsers and their CORS preflights):

- HTTP/1.1 keep-alive and pipelining, HTTP/1.0 (``Connection: keep-alive``
  only when asked), ``Connection: close``;
- PEP 3333 environ (``PATH_INFO`` percent-decoded, ``RAW_URI`` kept); header
  names holding ``_`` are dropped, as pywsgi and gunicorn do, so that
  ``X_Forwarded_For`` cannot pose as ``X-Forwarded-For``;
- request bodies by ``Content-Length`` or ``Transfer-Encoding: chunked``
  (decoded by ``wsgi.input``), ``Expect: 100-continue`` on the first read;
- limits (request line 8 KiB -> 414, headers 64 KiB or 100 -> 431, malformed
  -> 400) and timeouts for idle connections and slow headers;
- responses framed by the app's ``Content-Length``, else chunked (HTTP/1.1)
  or ended by closing (HTTP/1.0); each body chunk is sent as soon as the app
  yields it (NDJSON and SSE streams are never held back);
- ``stop(timeout)``: running requests finish, idle connections are closed.

What it does not: TLS, HTTP/2, protocol upgrades (WebSocket), request trailers
(read and dropped), ``wsgi.file_wrapper``, an access log (the gateway records
its own requests), Unix sockets.
"""

from __future__ import annotations

import contextlib
import http
import logging
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

from gevent import Timeout
from gevent.event import Event
from gevent.pool import Pool
from gevent.server import StreamServer

from ollama_webmgr.serving import BACKLOG, READ_BUFFER

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

MAX_REQUEST_LINE = 8192
MAX_HEADER_BYTES = 65536
MAX_HEADERS = 100
# An unread request body up to this size is read and dropped to keep the
# connection; a larger one costs a new connection instead.
DRAIN_LIMIT = 65536
# Seconds a connection may wait for a complete request head (idle keep-alive
# included), and that any later read or write of that request may block.
TIMEOUT = 60.0
# Seconds to wait for a client to close after an answer sent before its
# request was read whole (see ``_Connection.linger``).
LINGER = 2.0
_CHUNK_LINE = 4096  # a chunk-size line, extensions included

_STR_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# One C call per line on the common path: the request line, a header line
# (token name, value without control bytes but tab, surrounding blanks cut).
_REQUEST_LINE = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) (HTTP/1\.[01])\r?\n"
)
_HEADER_LINE = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*"
    rb"((?:[^\x00-\x08\x0a-\x1f\x7f]*[^\x00-\x20\x7f])?)[ \t]*\r?\n"
)
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_PROTOCOLS = {b"HTTP/1.1": "HTTP/1.1", b"HTTP/1.0": "HTTP/1.0"}
_NO_BODY_STATUSES = frozenset({204, 304})


class ClientDisconnected(ConnectionError):
    """The client went away (or stalled past the timeout) during a request."""


class InvalidBody(OSError):
    """The request body breaks its framing (e.g. a malformed chunk size)."""


class _Reject(Exception):
    """A request answered with ``status`` before the app saw it."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --- request head --------------------------------------------------------------

# Header name (as sent) -> environ key; "" means dropped. Clients send the same
# few names every time: the translation is done once per name.
_KEYS: dict[bytes, str] = {}
_KEYS_MAX = 1024


def environ_key(name: bytes) -> str:
    """The environ key of a header name, "" for names that must be dropped.

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


def parse_request_line(line: bytes) -> tuple[str, bytes, str]:
    """``(method, target, protocol)`` of a request line.

    >>> parse_request_line(b"GET /api/tags?x=1 HTTP/1.1\\r\\n")
    ('GET', b'/api/tags?x=1', 'HTTP/1.1')
    >>> parse_request_line(b"GET / HTTP/2.0\\r\\n")
    Traceback (most recent call last):
    ...
    ollama_webmgr.http_server._Reject: only HTTP/1.0 and HTTP/1.1 are supported
    """
    match = _REQUEST_LINE.fullmatch(line)
    if match is None:
        raise _request_line_error(line)
    method, target, version = match.groups()
    return method.decode("ascii"), target, _PROTOCOLS[version]


def _request_line_error(line: bytes) -> _Reject:
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) == 3 and parts[2].startswith(b"HTTP/") and parts[2] not in _PROTOCOLS:
        return _Reject(505, "only HTTP/1.0 and HTTP/1.1 are supported")
    return _Reject(400, "malformed request line")


def split_target(target: bytes) -> tuple[str, str]:
    """``(PATH_INFO, QUERY_STRING)``: the path percent-decoded, as latin-1 text.

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
    if b"%" in path:
        path = unquote_to_bytes(path)
    return path.decode("latin-1"), query.decode("latin-1")


def _origin_form(target: bytes) -> bytes:
    """The path of an absolute-form target (proxies), ``*`` left as is."""
    if target == b"*":
        return target
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        raise _Reject(400, "malformed request target")
    slash = rest.find(b"/")
    return rest[slash:] if slash >= 0 else b"/"


def read_headers(rfile: Any, environ: dict[str, Any]) -> None:
    """Read the header section into ``environ`` (repeated names joined)."""
    budget = MAX_HEADER_BYTES
    count = 0
    while True:
        line = rfile.readline(budget + 1)
        budget -= len(line)
        if budget < 0:
            raise _Reject(431, "request header section too large")
        if not line.endswith(b"\n"):
            raise ClientDisconnected("connection closed in the request headers")
        if line == b"\r\n" or line == b"\n":
            return
        count += 1
        if count > MAX_HEADERS:
            raise _Reject(431, "too many request headers")
        _add_header(line, environ)


def _add_header(line: bytes, environ: dict[str, Any]) -> None:
    # a name must be a token: this also refuses obsolete line folding
    match = _HEADER_LINE.fullmatch(line)
    if match is None:
        raise _Reject(400, "malformed request header")
    name, value = match.groups()
    key = environ_key(name)
    if not key:
        return
    text = value.decode("latin-1")
    old = environ.get(key)
    if old is None:
        environ[key] = text
    elif key == "CONTENT_LENGTH":
        if old != text:
            raise _Reject(400, "conflicting Content-Length headers")
    else:
        environ[key] = f"{old}, {text}"


# --- request body (wsgi.input) -------------------------------------------------


class Body:
    """``wsgi.input``: the request body only, never read past; chunked decoded.

    ``length`` is the Content-Length, None for a chunked body. ``on_first_read``
    sends ``100 Continue`` when the client asked for it.
    """

    def __init__(
        self,
        rfile: Any,
        length: int | None,
        on_first_read: Callable[[], None] | None = None,
    ) -> None:
        self._rfile = rfile
        self._chunked = length is None
        # bytes left: of the body, or of the current chunk when chunked
        self._left = length or 0
        self._done = length is not None and length == 0
        self._on_first_read = on_first_read if not self._done else None

    # the file-like interface of PEP 3333
    def read(self, size: int | None = -1) -> bytes:
        self._first_read()
        if size is None or size < 0:
            return self._read_all()
        if not self._chunked:
            return self._read_fixed(min(size, self._left))
        return self._read_chunked(size)

    def readline(self, limit: int | None = -1) -> bytes:
        self._first_read()
        if limit is None or limit < 0:
            limit = sys.maxsize
        if not self._chunked:
            return self._readline_fixed(min(limit, self._left))
        return self._readline_chunked(limit)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")

    # the server's side
    @property
    def consumed(self) -> bool:
        return self._done or (not self._chunked and self._left == 0)

    def drainable(self, limit: int = DRAIN_LIMIT) -> bool:
        """Whether what is left can be read and dropped to keep the connection."""
        if self.consumed:
            return True
        if self._on_first_read is not None:
            return False  # 100 Continue never sent: the body may never come
        return self._chunked or self._left <= limit

    def drain(self, limit: int = DRAIN_LIMIT) -> bool:
        """Read and drop the rest; False when it was too long or broken."""
        if not self.drainable(limit):
            return False
        try:
            while not self.consumed and limit > 0:
                piece = (
                    self._read_chunked(limit)
                    if self._chunked
                    else self._read_fixed(min(limit, self._left))
                )
                limit -= len(piece)
        except OSError:
            return False
        return self.consumed

    def _first_read(self) -> None:
        if self._on_first_read is not None:
            send, self._on_first_read = self._on_first_read, None
            send()

    def _read_all(self) -> bytes:
        if not self._chunked:
            return self._read_fixed(self._left)
        return self._read_chunked(sys.maxsize)

    def _read_fixed(self, size: int) -> bytes:
        if size <= 0:
            return b""
        data = self._recv(self._rfile.read, size)
        self._left -= len(data)
        if len(data) < size:
            raise ClientDisconnected("connection closed in the request body")
        return data

    def _readline_fixed(self, size: int) -> bytes:
        if size <= 0:
            return b""
        data = self._recv(self._rfile.readline, size)
        self._left -= len(data)
        if len(data) < size and not data.endswith(b"\n"):
            raise ClientDisconnected("connection closed in the request body")
        return data

    def _read_chunked(self, size: int) -> bytes:
        parts = []
        while size > 0 and not self._done:
            if self._left == 0:
                self._next_chunk()
                continue
            data = self._read_fixed(min(size, self._left))
            parts.append(data)
            size -= len(data)
            if self._left == 0:
                self._end_chunk()
        return b"".join(parts)

    def _readline_chunked(self, limit: int) -> bytes:
        parts = []
        while limit > 0 and not self._done:
            if self._left == 0:
                self._next_chunk()
                continue
            data = self._readline_fixed(min(limit, self._left))
            parts.append(data)
            limit -= len(data)
            if self._left == 0:
                self._end_chunk()
            if data.endswith(b"\n"):
                break
        return b"".join(parts)

    def _next_chunk(self) -> None:
        line = self._recv(self._rfile.readline, _CHUNK_LINE)
        if not line.endswith(b"\n"):
            if len(line) < _CHUNK_LINE:
                raise ClientDisconnected("connection closed in the request body")
            raise InvalidBody("chunk size line too long")
        size = line.split(b";", 1)[0].strip()
        if not _HEX.fullmatch(size):
            raise InvalidBody("malformed chunk size")
        self._left = int(size, 16)
        if self._left == 0:
            self._skip_trailers()
            self._done = True

    def _end_chunk(self) -> None:
        if self._recv(self._rfile.readline, 3) not in (b"\r\n", b"\n"):
            raise InvalidBody("chunk not followed by CRLF")

    def _skip_trailers(self) -> None:
        try:
            read_headers(self._rfile, {})
        except _Reject as exc:
            raise InvalidBody(exc.reason) from None

    @staticmethod
    def _recv(read: Callable[[int], bytes], size: int) -> bytes:
        try:
            return read(size)
        except OSError as exc:  # reset, timed out
            raise ClientDisconnected(str(exc)) from exc


# --- one request and its response ----------------------------------------------


class _Exchange:
    """The response side of one request: ``start_response``, framing, sending."""

    __slots__ = (
        "bodiless",
        "chunked",
        "conn",
        "has_date",
        "head_sent",
        "headers",
        "keep_alive",
        "left",
        "method",
        "no_body",
        "protocol",
        "status",
    )

    def __init__(
        self, conn: _Connection, method: str, protocol: str, keep_alive: bool
    ) -> None:
        self.conn = conn
        self.method = method
        self.protocol = protocol
        self.keep_alive = keep_alive
        self.status: str | None = None
        self.headers = b""  # the app's header lines, encoded
        self.has_date = False
        self.left: int | None = None  # body bytes still due by Content-Length
        self.bodiless = False  # a status without body: 1xx, 204, 304
        self.no_body = method == "HEAD"
        self.chunked = False
        self.head_sent = False

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        if exc_info is not None and exc_info[1] is not None:
            try:
                if self.head_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        code = _check_status(status)
        self.left = None
        self.has_date = False
        self.headers = self._scan_headers(headers)
        self.status = status
        self.bodiless = code < 200 or code in _NO_BODY_STATUSES
        self.no_body = self.bodiless or self.method == "HEAD"
        return self.write

    def _scan_headers(self, headers: list[tuple[str, str]]) -> bytes:
        lines = []
        for name, value in headers:
            _check_header(name, value)
            lower = name.lower()
            if lower == "content-length":
                if self.left is not None or not value.isascii() or not value.isdigit():
                    raise ValueError(f"invalid Content-Length {value!r}")
                self.left = int(value)
            elif lower == "connection":  # the server's to send (hop-by-hop)
                if "close" in value.lower():
                    self.keep_alive = False
                continue
            elif lower == "date":
                self.has_date = True
            elif lower == "transfer-encoding":
                raise ValueError("Transfer-Encoding is the server's (hop-by-hop)")
            lines.append(f"{name}: {value}\r\n")
        return "".join(lines).encode("latin-1")

    def write(self, data: bytes) -> None:
        """Send ``data`` now: with the headers if they are still due."""
        if type(data) is not bytes:
            if not isinstance(data, (bytearray, memoryview)):
                raise TypeError(f"WSGI body items must be bytes, not {type(data)}")
            data = bytes(data)
        if self.status is None:
            raise AssertionError("write() before start_response")
        if not data:
            return  # an empty chunk would end a chunked body
        if not self.head_sent:
            self.send_head(data, final=False)
        elif not self.no_body:
            self.conn.send(self._frame(data))

    def finish(self) -> None:
        """The app's iterable ended: send what is due and close the framing."""
        if self.status is None:
            raise RuntimeError("the application never called start_response")
        if not self.head_sent:
            self.send_head(b"", final=True)
        elif self.chunked:
            self.conn.send(b"0\r\n\r\n")
        if self.left and not self.no_body:
            log.debug("response shorter than its Content-Length: closing")
            self.keep_alive = False

    def send_head(self, first: bytes, *, final: bool) -> None:
        """Headers and the first body chunk in one packet."""
        extra = "" if self.has_date else _date_line()
        if self.left is None and not self.bodiless:
            if final:  # nothing more will come: its length is known (HEAD: GET's)
                self.left = len(first)
                extra += f"Content-Length: {len(first)}\r\n"
            elif self.no_body:
                pass  # HEAD of a streamed body: no length to tell
            elif self.protocol == "HTTP/1.1":
                self.chunked = True
                extra += "Transfer-Encoding: chunked\r\n"
            else:
                self.keep_alive = False  # the end of the body is the closing
        if self.no_body:
            first = b""
        if not self.conn.may_continue():
            self.keep_alive = False
        if not self.keep_alive:
            extra += "Connection: close\r\n"
        elif self.protocol == "HTTP/1.0":
            extra += "Connection: keep-alive\r\n"
        line = f"{self.protocol} {self.status}\r\n".encode("latin-1")
        tail = f"{extra}\r\n".encode("latin-1")
        self.head_sent = True
        body = self._frame(first) if first else b""
        self.conn.send(line + self.headers + tail + body)

    def _frame(self, data: bytes) -> bytes:
        if self.chunked:
            return b"%x\r\n%b\r\n" % (len(data), data)
        if self.left is not None:
            if len(data) > self.left:
                log.debug("body longer than its Content-Length: cut")
                data = data[: self.left]
            self.left -= len(data)
        return data


def _check_status(status: str) -> int:
    if (
        type(status) is not str
        or len(status) < 3
        or not status[:3].isdigit()
        or (len(status) > 3 and status[3] != " ")
        or "\n" in status
        or "\r" in status
    ):
        raise ValueError(f"invalid WSGI status {status!r}")
    return int(status[:3])


_GOOD_NAMES: set[str] = set()


def _check_header(name: str, value: str) -> None:
    if type(name) is not str or type(value) is not str:
        raise TypeError(f"WSGI header names and values must be str: {name!r}")
    if name not in _GOOD_NAMES:
        if not _STR_TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if len(_GOOD_NAMES) < _KEYS_MAX:
            _GOOD_NAMES.add(name)
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"invalid value for header {name}")


_date_cache: tuple[int, str] = (0, "")


def _date_line() -> str:
    """The ``Date`` header line, formatted once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, f"Date: {formatdate(now, usegmt=True)}\r\n")
    return _date_cache[1]


# --- one connection --------------------------------------------------------------


class _Connection:
    """Requests of one client socket, one after the other."""

    def __init__(self, server: LeanWSGIServer, sock: Any, address: Any) -> None:
        self.server = server
        self.sock = sock
        self.rfile = sock.makefile("rb", server.read_buffer)
        self.base = dict(server.base_environ)
        if isinstance(address, tuple):
            self.base["REMOTE_ADDR"] = str(address[0])
            self.base["REMOTE_PORT"] = str(address[1])
        self.idle = True
        self.rejected = False  # answered before its request was read whole
        self.body: Body | None = None
        self.exchange: _Exchange | None = None
        # the whole request head, idle wait included, within the timeout
        self.timer = Timeout(server.timeout)

    def run(self) -> None:
        try:
            while not self.server.stopping and self.handle_one():
                pass
            if self.rejected or (self.body is not None and not self.body.consumed):
                self.linger()
        finally:
            self.timer.close()
            self.rfile.close()

    def handle_one(self) -> bool:
        """Serve one request; True to read another on this connection."""
        try:
            environ = self.read_request()
        except _Reject as exc:
            self.reject(exc.status, exc.reason)
            return False
        except ClientDisconnected:
            return False
        if environ is None:
            return False
        return self.respond(environ)

    def read_request(self) -> dict[str, Any] | None:
        """The environ of the next request, None when the client is done."""
        self.idle = True
        # the timer bounds the whole head; a socket timeout would also arm a
        # timer of its own at every wait for bytes
        self.sock.settimeout(None)
        self.timer.start()
        try:
            line = self._request_line()
            if not line:
                return None
            self.idle = False
            return self._environ(line)
        except Timeout as exc:
            if exc is not self.timer:
                raise
            return None
        except OSError:  # reset by the client
            return None
        finally:
            self.timer.cancel()
            self.sock.settimeout(self.server.timeout)  # body reads, sends

    def _request_line(self) -> bytes:
        for _ in range(3):  # a stray CRLF after a body is tolerated
            line: bytes = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if line not in (b"\r\n", b"\n"):
                break
        if len(line) > MAX_REQUEST_LINE:
            raise _Reject(414, "request line too long")
        if line and not line.endswith(b"\n"):
            return b""  # closed in the middle of the line
        return line

    def _environ(self, line: bytes) -> dict[str, Any]:
        method, target, protocol = parse_request_line(line)
        environ = self.base.copy()
        environ["REQUEST_METHOD"] = method
        environ["PATH_INFO"], environ["QUERY_STRING"] = split_target(target)
        environ["RAW_URI"] = target.decode("latin-1")
        environ["SERVER_PROTOCOL"] = protocol
        read_headers(self.rfile, environ)
        self.body = self._body(environ, protocol)
        environ["wsgi.input"] = self.body
        return environ

    def _body(self, environ: dict[str, Any], protocol: str) -> Body:
        coding = environ.get("HTTP_TRANSFER_ENCODING")
        length = environ.get("CONTENT_LENGTH")
        if coding is not None:
            if length is not None:
                raise _Reject(400, "both Content-Length and Transfer-Encoding")
            if coding.strip().lower() != "chunked" or protocol != "HTTP/1.1":
                raise _Reject(400, "unsupported Transfer-Encoding")
            size = None
        elif length is not None:
            if not (length.isascii() and length.isdigit()) or len(length) > 18:
                raise _Reject(400, "invalid Content-Length")
            size = int(length)
        else:
            size = 0
        expect = environ.get("HTTP_EXPECT", "")
        wants_continue = protocol == "HTTP/1.1" and expect.lower() == "100-continue"
        return Body(self.rfile, size, self._send_continue if wants_continue else None)

    def _send_continue(self) -> None:
        if self.exchange is not None and not self.exchange.head_sent:
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")

    def respond(self, environ: dict[str, Any]) -> bool:
        protocol = environ["SERVER_PROTOCOL"]
        exchange = self.exchange = _Exchange(
            self,
            environ["REQUEST_METHOD"],
            protocol,
            _keep_alive(protocol, environ.get("HTTP_CONNECTION")),
        )
        result: Iterable[bytes] | None = None
        try:
            result = self.server.app(environ, exchange.start_response)
            _send_all(result, exchange)
        except ClientDisconnected as exc:
            log.debug("client gone: %s", exc)
            return False
        except InvalidBody as exc:
            if not exchange.head_sent:
                self.reject(400, str(exc))
            return False
        except Exception:
            self.server.error_log.exception(
                "error in the WSGI application: %s %s",
                environ["REQUEST_METHOD"],
                environ["RAW_URI"],
            )
            if not exchange.head_sent:
                self.reject(500, "internal server error")
            return False
        finally:
            _close(result, self.server.error_log)
            self.exchange = None
        return exchange.keep_alive and self.body is not None and self.body.drain()

    def may_continue(self) -> bool:
        """Whether the connection can serve a request after this one."""
        if self.server.stopping:
            return False
        return self.body is None or self.body.drainable()

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise ClientDisconnected(str(exc)) from exc

    def reject(self, status: int, reason: str) -> None:
        """A short plain answer, then the connection is closed."""
        body = f"{reason}\n".encode()
        phrase = http.HTTPStatus(status).phrase
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n{_date_line()}"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            self.sock.sendall(head.encode("latin-1") + body)
        self.rejected = True

    def linger(self) -> None:
        """Close gently on unread request bytes.

        Closing a socket whose unread bytes remain makes the kernel reset the
        connection, and the client may lose the answer it was sent: stop
        writing, then drop what comes until the client closes (a short while).
        """
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                if not self.sock.recv(65536):
                    return

    def interrupt_if_idle(self) -> None:
        """At shutdown: end a connection waiting for its next request."""
        if self.idle:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


def _keep_alive(protocol: str, connection: str | None) -> bool:
    """
    >>> _keep_alive("HTTP/1.1", None), _keep_alive("HTTP/1.1", "Close")
    (True, False)
    >>> _keep_alive("HTTP/1.0", None), _keep_alive("HTTP/1.0", "keep-alive")
    (False, True)
    """
    if connection is None:
        return protocol == "HTTP/1.1"
    tokens = {token.strip() for token in connection.lower().split(",")}
    if protocol == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens


def _send_all(result: Iterable[bytes], exchange: _Exchange) -> None:
    # a one-item list is a body of known length: no chunked framing
    if (
        type(result) is list
        and len(result) == 1
        and type(result[0]) is bytes
        and exchange.status is not None
        and not exchange.head_sent
        and exchange.left is None
        and not exchange.bodiless
    ):
        exchange.send_head(result[0], final=True)
        return
    for data in result:
        exchange.write(data)
    exchange.finish()


def _close(result: object, error_log: logging.Logger) -> None:
    close = getattr(result, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:
        error_log.exception("error closing the WSGI response")


# --- the server ----------------------------------------------------------------


class LeanWSGIServer:
    """An HTTP/1.1 WSGI server: ``start()``, ``serve_forever()``, ``stop()``.

    The caller must have monkey-patched (or run it in a gevent hub's thread).
    ``environ`` adds to (or overrides) the base environ, e.g. ``SERVER_NAME``,
    which defaults to the bound host (no name resolution).
    """

    stop_timeout = 1.0

    def __init__(
        self,
        address: tuple[str, int] | socket.socket,
        app: WSGIApplication,
        *,
        backlog: int = BACKLOG,
        read_buffer: int = READ_BUFFER,
        timeout: float = TIMEOUT,
        environ: dict[str, Any] | None = None,
        error_log: logging.Logger = log,
    ) -> None:
        self.app = app
        self.read_buffer = read_buffer
        self.timeout = timeout
        self.error_log = error_log
        self.stopping = False
        # a listening socket (a worker of ``prefork``) or the address to bind
        host, port = (
            address.getsockname()[:2] if isinstance(address, socket.socket) else address
        )
        self.base_environ: WSGIEnvironment = {
            "SCRIPT_NAME": "",
            "SERVER_NAME": host,
            "SERVER_PORT": str(port),
            "REMOTE_ADDR": "",
            "REMOTE_PORT": "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            **(environ or {}),
        }
        self._connections: set[_Connection] = set()
        self._pool = Pool()  # stop() waits for the running requests
        self._stopped = Event()
        self._server = StreamServer(
            address,
            self._handle,
            # a listening socket has its backlog already
            backlog=None if isinstance(address, socket.socket) else backlog,
            spawn=self._pool,
        )

    @property
    def address(self) -> Any:
        """The bound address once started (port 0 replaced by the real one)."""
        return self._server.address

    @property
    def server_port(self) -> int:
        return int(self._server.server_port)

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def start(self) -> None:
        """Bind and listen now (``OSError`` for a busy port), then accept."""
        self._server.start()
        self.stopping = False
        self._stopped.clear()
        self.base_environ["SERVER_PORT"] = str(self.server_port)

    def serve_forever(self) -> None:
        if not self.started:
            self.start()
        try:
            self._stopped.wait()
        finally:
            if not self.stopping:
                self.stop()

    def stop(self, timeout: float | None = None) -> None:
        """Stop accepting; running requests get ``timeout`` seconds to finish."""
        self.stopping = True
        self._server.close()
        for conn in list(self._connections):
            conn.interrupt_if_idle()
        self._pool.join(timeout=self.stop_timeout if timeout is None else timeout)
        self._pool.kill(block=True, timeout=1)
        self._stopped.set()

    def _handle(self, sock: Any, address: Any) -> None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Connection(self, sock, address)
        self._connections.add(conn)
        try:
            conn.run()
        except Exception:
            self.error_log.exception("error serving a connection")
        finally:
            self._connections.discard(conn)
