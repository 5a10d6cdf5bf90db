"""The gateway's HTTP/1.1 client: keep-alive connections to one server each.

The relay only needs plain HTTP/1.1 to Ollama (or a TLS front): requests with
a small body or a streamed upload, answers with a length, chunked or
read-until-close. urllib3 over ``http.client`` parses every answer's headers
with the ``email`` package and wraps each call in several layers: measured
side by side (docs/benchmarks.md), that was over half of what the gateway
added to a request. Here a request is one ``sendall``; the answer is parsed
by llhttp as it is received (``answer.py``), and this module keeps the
connections, their reuse and the timeouts.

Every failure is an ``OSError``: ``ConnectFailed`` (nothing was sent),
``TimeoutError``, ``UpstreamProtocolError`` (a malformed answer),
``ConnectionResetError`` (one cut short) or the socket's own error. A
connection taken from the idle list that turns out closed by the server is
replaced once, before anything of the answer was read, when the body can be
sent again. A connection goes back to the idle list only after an answer read
to its end with nothing after it.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gevent.monkey import get_original

from ollama_webmgr.gateway.answer import (
    NoAnswer,
    Response,
    UpstreamProtocolError,
    read_head,
)
from ollama_webmgr.http_response import send_whole

__all__ = [
    "ConnectFailed",
    "Response",
    "Timeouts",
    "UnexpectedAnswer",
    "Upstream",
    "UpstreamProtocolError",
    "Upstreams",
]
_UNSAFE_IN_TARGET = re.compile("[\x00-\x20\x7f-\xff]")
# Unpatched: a zero-timeout check of an idle socket must not yield to the hub.
_poll = get_original("select", "poll")
_POLLIN = get_original("select", "POLLIN")


class ConnectFailed(OSError):
    """The server could not be reached: nothing of the request was sent."""


class UnexpectedAnswer(ValueError):
    """An answer that is not the JSON object asked for (another status, a list)."""


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
        self._idle: deque[socket.socket] = deque()
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
            sock = reused or self._connect(timeouts.connect)
            sock.settimeout(timeouts.read)
            try:
                _send(sock, head, body)
                return Response(sock, read_head(sock, method), self._keep)
            except (BrokenPipeError, NoAnswer):
                sock.close()
                # a server may close an idle connection just as it is reused
                if reused is not None and not isinstance(body, Iterator):
                    continue
                raise
            except BaseException:
                sock.close()
                raise

    def get_json(self, path: str, *, connect: float, read: float) -> dict[str, Any]:
        """``GET path``: the JSON object of a 200 answer (probes, fleet listings);
        ``OSError`` or ``ValueError`` (``UnexpectedAnswer``) otherwise."""
        response = self.request("GET", path, {}, None, Timeouts(connect, read))
        body = response.read()
        if response.status != 200:
            raise UnexpectedAnswer(f"{path} answered {response.status}")
        data = json.loads(body)
        if not isinstance(data, dict):
            raise UnexpectedAnswer(f"{path} answered a non-object")
        return data

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

    def _idle_connection(self) -> socket.socket | None:
        while self._idle:
            sock = self._idle.pop()  # the most recent: the least likely closed
            if _is_usable(sock):
                return sock
            sock.close()
        return None

    def _connect(self, timeout: float) -> socket.socket:
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
        return sock

    def _keep(self, sock: socket.socket) -> None:
        if self.closed or len(self._idle) >= self._max_idle:
            sock.close()
        else:
            self._idle.append(sock)


class Upstreams:
    """One ``Upstream`` per server URL, made on first use: the relay and the
    health probes of a process share their keep-alive connections."""

    def __init__(self) -> None:
        self._by_url: dict[str, Upstream] = {}

    def __call__(self, base_url: str) -> Upstream:
        upstream = self._by_url.get(base_url)
        if upstream is None:
            if len(self._by_url) > 256:  # servers removed and added over time
                self.close()
                self._by_url.clear()
            upstream = self._by_url[base_url] = Upstream(base_url)
        return upstream

    def close(self) -> None:
        """Close the idle connections of every server."""
        for upstream in list(self._by_url.values()):
            upstream.close()


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


def _is_usable(sock: socket.socket) -> bool:
    """An idle connection must have nothing to read: data or EOF means the
    server has closed it (or sent bytes no request asked for)."""
    try:
        poller = _poll()
        poller.register(sock.fileno(), _POLLIN)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def _send(
    sock: socket.socket, head: bytes, body: bytes | Iterator[bytes] | None
) -> None:
    if body is None or isinstance(body, bytes):
        send_whole(
            sock, head + body if body else head
        )  # one packet for a small request
        return
    sock.sendall(head)
    chunked = b"Transfer-Encoding: chunked\r\n" in head
    for piece in body:
        if piece:
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
    if chunked:
        sock.sendall(b"0\r\n\r\n")
