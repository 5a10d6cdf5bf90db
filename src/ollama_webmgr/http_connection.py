"""One client connection of ``http_server.LeanWSGIServer``: reading requests
through llhttp (``http_request``), answering them (``http_response``),
keep-alive, draining and lingering.
"""

from __future__ import annotations

import contextlib
import http
import logging
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ollama_webmgr.http_request import (
    MAX_HEADER_BYTES,
    MAX_REQUEST_LINE,
    Body,
    ClientDisconnected,
    InvalidBody,
    Message,
    Parser,
    Refused,
    add_headers,
    split_target,
)
from ollama_webmgr.http_response import (
    Exchange,
    close_result,
    date_line,
    keep_alive,
    send_all,
    send_whole,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

log = logging.getLogger("ollama_webmgr.http_server")

RECV_SIZE = 65536
# Bytes a head may take on the wire (its line ends, blanks and a pipelined
# neighbour's first bytes included), checked between reads.
_HEAD_WIRE = MAX_REQUEST_LINE + MAX_HEADER_BYTES + RECV_SIZE
# An unread request body up to this size is read and dropped to keep the
# connection; a larger one costs a new connection instead.
DRAIN_LIMIT = 65536
# Seconds to wait for a client to close after an answer sent before its
# request was read whole (see ``Connection.linger``).
LINGER = 2.0

# connection states, for eviction and shutdown
HEAD, BUSY, IDLE = "head", "busy", "idle"


@dataclass(frozen=True)
class ServerLimits:
    """Time and connection limits of one listening port (seconds, count)."""

    head_timeout: float = 10.0
    idle_timeout: float = 75.0
    io_timeout: float = 60.0
    max_connections: int = 1000


class Host(Protocol):
    """What a connection reads of its server (``http_server.LeanWSGIServer``),
    named here so that this module needs nothing of the server's."""

    app: WSGIApplication
    limits: ServerLimits
    base_environ: WSGIEnvironment
    error_log: logging.Logger
    stopping: bool


class Connection:
    """Requests of one client socket, one after the other."""

    def __init__(self, server: Host, sock: Any, address: Any) -> None:
        self.server = server
        self.limits = server.limits
        self.sock = sock
        self.base = dict(server.base_environ)
        if isinstance(address, tuple):
            self.base["REMOTE_ADDR"] = str(address[0])
            self.base["REMOTE_PORT"] = str(address[1])
        self.parser = Parser()
        self.state = HEAD
        self.since = time.monotonic()
        self.evicted = False  # closed to make room for another
        self.rejected = False  # answered before its request was read whole
        self.message: Message | None = None
        self.input: Body | None = None
        self.exchange: Exchange | None = None

    def run(self) -> None:
        try:
            first = True
            while not self.server.stopping and self.handle_one(first):
                first = False
            message = self.message
            if self.rejected or (message is not None and not message.complete):
                self.linger()
        finally:
            with contextlib.suppress(OSError):
                self.sock.close()

    def handle_one(self, first: bool) -> bool:
        """Serve one request; True to read another on this connection."""
        try:
            message = self.next_message(first)
            if message is None:
                return False
            environ = self.environ(message)
        except Refused as exc:
            self.reject(exc.status, exc.reason)
            return False
        except OSError:  # reset by the client
            return False
        return self.respond(environ)

    # --- reading ---------------------------------------------------------------
    def next_message(self, first: bool) -> Message | None:
        """The next request with its head complete; None when the client is done.

        Idle keep-alive time counts from the last answer only; the head's own
        time from its first byte (from the accept on a new connection).
        """
        parser, limits = self.parser, self.limits
        idle = not first and not parser.messages
        self.state = IDLE if idle else HEAD
        self.since = now = time.monotonic()
        deadline = now + limits.head_timeout
        wire = 0
        while True:
            if parser.messages and parser.messages[0].head_done:
                self.state = BUSY
                self.message = message = parser.messages.popleft()
                return message
            if parser.error is not None:
                raise parser.error
            if idle:
                wait = limits.idle_timeout
            elif (wait := deadline - time.monotonic()) <= 0:
                return None  # a head too slow
            data = self.recv(wait)
            if not data:
                return None
            if idle:  # its first byte: the head's time starts
                idle = False
                self.state = HEAD
                self.since = time.monotonic()
                deadline = self.since + limits.head_timeout
            wire += len(data)
            if wire > _HEAD_WIRE:
                raise Refused(431, "request header section too large")
            parser.feed(data)

    def recv(self, timeout: float) -> bytes:
        """Up to ``RECV_SIZE`` bytes; b"" on a closing or a timeout."""
        self.sock.settimeout(timeout)
        try:
            data: bytes = self.sock.recv(RECV_SIZE)
        except TimeoutError:
            return b""
        return data

    def fill(self) -> None:
        """More bytes of the current request's body (``Body`` calls it)."""
        message, parser = self.message, self.parser
        assert message is not None
        if parser.error is None:
            try:
                data = self.recv(self.limits.io_timeout)
            except OSError as exc:
                raise ClientDisconnected(str(exc)) from exc
            if not data:
                raise ClientDisconnected("connection closed in the request body")
            parser.feed(data)
        if parser.error is not None and not message.complete:
            raise InvalidBody(parser.error.reason)

    def environ(self, message: Message) -> dict[str, Any]:
        environ = self.base.copy()
        protocol = message.protocol
        environ["REQUEST_METHOD"] = message.method
        environ["PATH_INFO"], environ["QUERY_STRING"] = split_target(message.target)
        environ["RAW_URI"] = message.target.decode("latin-1")
        environ["SERVER_PROTOCOL"] = protocol
        add_headers(message, environ)
        coding = environ.get("HTTP_TRANSFER_ENCODING")
        if coding is not None:
            # RFC 9112 §6.1: not in HTTP/1.0; llhttp lets codings before chunked by
            if protocol != "HTTP/1.1":
                raise Refused(400, "Transfer-Encoding in an HTTP/1.0 request")
            codings = coding.lower().replace(" ", "").split(",")
            if codings[-1] != "chunked":  # §6.3: the length cannot be known
                raise Refused(400, "Transfer-Encoding without chunked last")
            if len(codings) > 1:
                raise Refused(501, "unsupported Transfer-Encoding")
        expect = environ.get("HTTP_EXPECT")
        wants = (
            expect is not None
            and protocol == "HTTP/1.1"
            and expect.lower() == "100-continue"
        )
        environ["wsgi.input"] = self.input = Body(
            message, self.fill, self._send_continue if wants else None
        )
        return environ

    def _send_continue(self) -> None:
        if self.exchange is not None and not self.exchange.head_sent:
            self.send(b"HTTP/1.1 100 Continue\r\n\r\n")

    # --- answering -------------------------------------------------------------
    def respond(self, environ: WSGIEnvironment) -> bool:
        protocol = environ["SERVER_PROTOCOL"]
        self.sock.settimeout(self.limits.io_timeout)
        exchange = self.exchange = Exchange(
            self,
            environ["REQUEST_METHOD"],
            protocol,
            keep_alive(protocol, environ.get("HTTP_CONNECTION")),
        )
        result: Iterable[bytes] | None = None
        try:
            result = self.server.app(environ, exchange.start_response)
            send_all(result, exchange)
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
                environ["RAW_URI"][:200],
            )
            if not exchange.head_sent:
                self.reject(500, "internal server error")
            return False
        finally:
            close_result(result, self.server.error_log)
            self.exchange = None
        return exchange.keep_alive and self.drain()

    def may_continue(self) -> bool:
        """Whether the connection can serve a request after this one."""
        if self.server.stopping:
            return False
        message = self.message
        return message is None or self._drainable(message)

    def _drainable(self, message: Message) -> bool:
        if message.upgrade or self.parser.error is not None:
            return False  # what follows on this stream is not to be read
        if message.complete:
            return True
        body = self.input
        if body is not None and body.waiting_for_continue:
            return False  # 100 Continue never sent: the body may never come
        # a chunked body's end cannot be known in advance: close instead
        length = _content_length(message)
        return length is not None and length - message.received <= DRAIN_LIMIT

    def drain(self) -> bool:
        """Read and drop the rest of the body; False when it was too long."""
        message = self.message
        assert message is not None
        if not message.complete:
            if not self._drainable(message):
                return False
            limit = message.received + DRAIN_LIMIT
            try:
                while not message.complete and message.received <= limit:
                    message.body.clear()
                    self.fill()
            except OSError:
                return False
        message.body.clear()
        return message.complete and not message.upgrade

    def send(self, data: bytes) -> None:
        try:
            send_whole(self.sock, data)
        except OSError as exc:
            raise ClientDisconnected(str(exc)) from exc

    def reject(self, status: int, reason: str) -> None:
        """A short plain answer, then the connection is closed."""
        send_refusal(self.sock, status, reason)
        self.rejected = True

    def linger(self) -> None:
        """Close gently on unread request bytes (see ``linger``)."""
        linger(self.sock, LINGER)

    def close_now(self) -> None:
        """End the connection from outside (eviction, shutdown)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


def linger(sock: Any, seconds: float) -> None:
    """Stop writing, then drop what comes until the client closes (at most
    ``seconds``): closing a socket with unread bytes makes the kernel reset the
    connection, and the client may lose the answer it was just sent."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(RECV_SIZE):
                return


def _content_length(message: Message) -> int | None:
    for name, value in message.headers:
        if len(name) == 14 and name.lower() == b"content-length":
            return int(value)
    return None


def send_refusal(
    sock: Any, status: int, reason: str, extra: str = "", *, timeout: float = 1.0
) -> None:
    """A short plain-text answer with ``Connection: close`` (errors ignored)."""
    body = f"{reason}\n".encode()
    phrase = http.HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {phrase}\r\n{date_line()}{extra}"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        sock.settimeout(timeout)
        sock.sendall(head.encode("latin-1") + body)
