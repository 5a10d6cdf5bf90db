"""The response side of one request for ``http_server``: WSGI's
``start_response``, the framing (``Content-Length``, chunked, or the closing)
and the sending, headers and first body chunk in one packet.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from _typeshed import OptExcInfo

log = logging.getLogger("ollama_webmgr.http_server")

_STR_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NO_BODY_STATUSES = frozenset({204, 304})
_NAMES_MAX = 1024


def send_whole(sock: socket.socket, data: bytes) -> None:
    """``sock.sendall(data)`` with one ``send`` when the buffer takes it all,
    which it nearly always does: gevent's ``sendall`` asks the kernel for the
    buffer size first, one more system call on every answer."""
    sent = sock.send(data)
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:])


class Sender(Protocol):
    """What an exchange needs of its connection."""

    def send(self, data: bytes) -> None: ...

    def may_continue(self) -> bool: ...


class Exchange:
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
        self, conn: Sender, method: str, protocol: str, keep_alive: bool
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
        extra = "" if self.has_date else date_line()
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
        if len(_GOOD_NAMES) < _NAMES_MAX:
            _GOOD_NAMES.add(name)
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"invalid value for header {name}")


_date_cache: tuple[int, str] = (0, "")


def date_line() -> str:
    """The ``Date`` header line, formatted once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, f"Date: {formatdate(now, usegmt=True)}\r\n")
    return _date_cache[1]


def keep_alive(protocol: str, connection: str | None) -> bool:
    """
    >>> keep_alive("HTTP/1.1", None), keep_alive("HTTP/1.1", "Close")
    (True, False)
    >>> keep_alive("HTTP/1.0", None), keep_alive("HTTP/1.0", "keep-alive")
    (False, True)
    """
    if connection is None:
        return protocol == "HTTP/1.1"
    tokens = {token.strip() for token in connection.lower().split(",")}
    if protocol == "HTTP/1.1":
        return "close" not in tokens
    return "keep-alive" in tokens


def send_all(result: Iterable[bytes], exchange: Exchange) -> None:
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


def close_result(result: object, error_log: logging.Logger) -> None:
    close = getattr(result, "close", None)
    if close is None:
        return
    try:
        close()
    except Exception:
        error_log.exception("error closing the WSGI response")
