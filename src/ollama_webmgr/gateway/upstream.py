"""The gateway's HTTP/1.1 client: keep-alive connections to one server each.

The relay only needs plain HTTP/1.1 to Ollama (or a TLS front): requests with
a small body or a streamed upload, answers with a length, chunked or
read-until-close. urllib3 over ``http.client`` parses every answer's headers
with the ``email`` package and wraps each call in several layers: measured
side by side (docs/benchmarks.md), that was over half of what the gateway
added to a request. Here a request is one ``sendall`` and an answer is a few
``readline`` calls on a small buffered reader.

Every failure is an ``OSError``: ``ConnectFailed`` (nothing was sent),
``TimeoutError``, ``UpstreamProtocolError`` (an answer that is not HTTP) or
the socket's own error. A connection taken from the idle list that turns out
closed by the server is replaced once, before anything of the answer was
read, when the body can be sent again.
"""

from __future__ import annotations

import io
import re
import socket
import ssl
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gevent.monkey import get_original

# Buffer of each connection's reader: Ollama's answers are streamed lines or
# small JSON bodies; a thousand open streams keep ~6 MB less than with 8 KiB.
READ_BUFFER = 2048
MAX_LINE = 65536
MAX_HEADERS = 200
BLOCK = 65536
_NO_BODY_STATUS = frozenset({204, 304})
_UNSAFE_IN_TARGET = re.compile("[\x00-\x20\x7f-\xff]")
# Unpatched: a zero-timeout check of an idle socket must not yield to the hub.
_poll = get_original("select", "poll")
_POLLIN = get_original("select", "POLLIN")


class ConnectFailed(OSError):
    """The server could not be reached: nothing of the request was sent."""


class UpstreamProtocolError(OSError):
    """The server's answer is not valid HTTP/1.x."""


class _NoAnswer(ConnectionResetError):
    """The connection ended before the first byte of an answer."""


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float


class Upstream:
    """Keep-alive connections to one server (``http://`` or ``https://``).

    ``request`` is safe from many greenlets or threads at once: each takes
    its own connection; at most ``max_idle`` are kept between requests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        max_idle: int = 256,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.secure = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.secure else 80)
        self.prefix = parts.path.rstrip("/")  # a server behind a path prefix
        default_port = self.port == (443 if self.secure else 80)
        name = f"[{self.host}]" if ":" in self.host else self.host
        self._host_header = name if default_port else f"{name}:{self.port}"
        self._tls = tls or (ssl.create_default_context() if self.secure else None)
        self._idle: deque[_Connection] = deque()
        self._max_idle = max_idle
        self.closed = False

    def request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | Iterator[bytes] | None,
        timeouts: Timeouts,
    ) -> Response:
        """Send one request (``target``: path and query) and read the answer's head."""
        head = self._head(method, target, headers, body)
        while True:
            reused = self._idle_connection()
            conn = reused or self._connect(timeouts.connect)
            conn.sock.settimeout(timeouts.read)
            try:
                _send(conn.sock, head, body)
                return _read_response(self, conn, method)
            except (BrokenPipeError, _NoAnswer):
                conn.close()
                # a server may close an idle connection just as it is reused
                if reused is not None and not isinstance(body, Iterator):
                    continue
                raise
            except BaseException:
                conn.close()
                raise

    def close(self) -> None:
        """Close the idle connections; answers being read finish normally."""
        self.closed = True
        while self._idle:
            self._idle.pop().close()

    def _head(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | Iterator[bytes] | None,
    ) -> bytes:
        lines = [
            f"{method} {self.prefix}{_safe_target(target)} HTTP/1.1",
            f"Host: {self._host_header}",
        ]
        lines += [f"{name}: {_safe_value(value)}" for name, value in headers.items()]
        names = {name.lower() for name in headers}
        if "accept-encoding" not in names:
            lines.append("Accept-Encoding: identity")  # bodies stay plain
        if isinstance(body, bytes):
            lines.append(f"Content-Length: {len(body)}")
        elif body is not None and "content-length" not in names:
            lines.append("Transfer-Encoding: chunked")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _idle_connection(self) -> _Connection | None:
        while self._idle:
            conn = self._idle.pop()  # the most recent: the least likely closed
            if conn.is_usable():
                return conn
            conn.close()
        return None

    def _connect(self, timeout: float) -> _Connection:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
        except TimeoutError:
            raise TimeoutError(f"connect to {self._host_header} timed out") from None
        except OSError as exc:
            raise ConnectFailed(
                exc.errno,
                f"cannot connect to {self._host_header}: {exc.strerror or exc}",
            ) from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _keep(self, conn: _Connection) -> None:
        if self.closed or len(self._idle) >= self._max_idle:
            conn.close()
        else:
            self._idle.append(conn)


def _safe_target(target: str) -> str:
    r"""The path as the WSGI server decoded it, with spaces, controls and
    non-ASCII bytes encoded again: a request line cannot carry them.

    >>> _safe_target("/v1/models/my model\r\nX: 1?q=caf\xc3\xa9")
    '/v1/models/my%20model%0D%0AX:%201?q=caf%C3%A9'
    """
    if _UNSAFE_IN_TARGET.search(target) is None:
        return target
    return _UNSAFE_IN_TARGET.sub(lambda m: f"%{ord(m.group()):02X}", target)


def _safe_value(value: str) -> str:
    r"""A header value cannot end its line early (folded or forged lines).

    >>> _safe_value("a\r\n  b")
    'a    b'
    """
    if "\r" in value or "\n" in value or "\0" in value:
        return value.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    return value


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader: io.BufferedReader = sock.makefile("rb", READ_BUFFER)  # type: ignore[assignment]

    def is_usable(self) -> bool:
        """An idle connection must have nothing to read: data or EOF means the
        server has closed it (or broke the protocol)."""
        try:
            poller = _poll()
            poller.register(self.sock.fileno(), _POLLIN)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def _send(
    sock: socket.socket, head: bytes, body: bytes | Iterator[bytes] | None
) -> None:
    if body is None or isinstance(body, bytes):
        sock.sendall(head + body if body else head)  # one packet for a small request
        return
    sock.sendall(head)
    chunked = b"Transfer-Encoding: chunked\r\n" in head
    for piece in body:
        if piece:
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
    if chunked:
        sock.sendall(b"0\r\n\r\n")


class Response:
    """One answer: status and headers read, the body read by ``chunks``/``read``.

    ``release`` hands the connection back once the body was read to its end;
    ``close`` drops it (an answer read halfway cannot be reused).
    """

    def __init__(
        self,
        upstream: Upstream,
        conn: _Connection,
        status: int,
        reason: str,
        headers: list[tuple[str, str]],
        *,
        connection: frozenset[str],
        length: int | None,
        chunked: bool,
        reusable: bool,
    ) -> None:
        self.status, self.reason, self.headers = status, reason, headers
        self.connection = connection  # tokens of its Connection header, lowercase
        self._upstream = upstream
        self._conn: _Connection | None = conn
        self._length = length
        self.chunked = chunked
        self._reusable = reusable
        self.complete = length == 0 and not chunked

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        return _first(self.headers, name)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives: each chunk of a chunked answer, else blocks."""
        if self.complete or self._conn is None:
            return
        reader = self._conn.reader
        if self.chunked:
            yield from _chunked(reader)
        elif self._length is not None:
            left = self._length
            while left:
                data = reader.read1(min(left, BLOCK))
                if not data:
                    raise ConnectionResetError("the answer ended before its length")
                left -= len(data)
                yield data
        else:
            while data := reader.read1(BLOCK):
                yield data
        self.complete = True

    def read(self) -> bytes:
        """The whole body; the connection goes back to the idle list."""
        try:
            data = b"".join(self.chunks())
        except BaseException:
            self.close()
            raise
        self.release()
        return data

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self.complete and self._reusable:
            self._upstream._keep(conn)
        else:
            conn.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _read_response(upstream: Upstream, conn: _Connection, method: str) -> Response:
    reader = conn.reader
    try:
        line = reader.readline(MAX_LINE)
    except ConnectionResetError:
        line = b""
    if not line:
        raise _NoAnswer("the server closed the connection without answering")
    while True:
        version, status, reason = _status_line(line)
        headers = _headers(reader)
        if status >= 200 or status == 101:
            break  # 100 Continue and other interim answers are skipped
        line = reader.readline(MAX_LINE)
    tokens = frozenset(
        t.strip().lower()
        for k, v in headers
        if k.lower() == "connection"
        for t in v.split(",")
    )
    reusable = version == b"HTTP/1.1" and "close" not in tokens
    length: int | None = None
    chunked = False
    if method == "HEAD" or status in _NO_BODY_STATUS or status < 200:
        length = 0
    else:
        coding = _first(headers, "transfer-encoding")
        if coding:
            chunked = coding.lower().rsplit(",", 1)[-1].strip() == "chunked"
            reusable = reusable and chunked
        else:
            length = _content_length(headers)
            reusable = reusable and length is not None
    return Response(
        upstream,
        conn,
        status,
        reason,
        headers,
        connection=tokens,
        length=length,
        chunked=chunked,
        reusable=reusable,
    )


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def _status_line(line: bytes) -> tuple[bytes, int, str]:
    """
    >>> _status_line(b"HTTP/1.1 404 Not Found\\r\\n")
    (b'HTTP/1.1', 404, 'Not Found')
    >>> _status_line(b"HTTP/1.0 200\\r\\n")
    (b'HTTP/1.0', 200, '')
    """
    parts = line.rstrip(b"\r\n").split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise UpstreamProtocolError(f"not an HTTP answer: {line[:80]!r}")
    reason = parts[2].decode("latin-1") if len(parts) == 3 else ""
    return parts[0], int(parts[1]), reason


def _headers(reader: io.BufferedReader) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        line = reader.readline(MAX_LINE)
        if line in (b"\r\n", b"\n"):
            return headers
        name, colon, value = line.partition(b":")
        if not line.endswith(b"\n") or not colon or len(headers) >= MAX_HEADERS:
            raise UpstreamProtocolError(f"bad header line {line[:80]!r}")
        headers.append(
            (name.decode("latin-1").strip(), value.decode("latin-1").strip())
        )


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    values = {v for k, v in headers if k.lower() == "content-length"}
    if not values:
        return None
    if len(values) > 1 or not (value := values.pop()).isdigit():
        raise UpstreamProtocolError("invalid Content-Length")
    return int(value)


def _chunked(reader: io.BufferedReader) -> Iterator[bytes]:
    while True:
        line = reader.readline(MAX_LINE)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            if not line:
                raise ConnectionResetError("the answer ended mid-way") from None
            raise UpstreamProtocolError("bad chunk size") from None
        if size == 0:
            while reader.readline(MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass  # trailers: nothing the relay forwards
            return
        while size:
            data = reader.read1(min(size, BLOCK))
            if not data:
                raise ConnectionResetError("the answer ended mid-chunk")
            size -= len(data)
            yield data
        if reader.readline(MAX_LINE) not in (b"\r\n", b"\n"):
            raise UpstreamProtocolError("chunk not followed by CRLF")
