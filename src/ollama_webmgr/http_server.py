"""A lean HTTP/1.1 WSGI server on gevent's ``StreamServer``, for both ports.

Why our own: every request through the gateway pays its server's work twice
(read the request, write the response) on top of the relay itself.
``gevent.pywsgi`` parses with the ``email`` package, has no timeout for a
request head (slow heads used up the process's descriptors) and served
smuggled requests; gunicorn builds more than the gateway needs. Here the
bytes are parsed by llhttp (``http_request``, through ``httptools``: Node's
parser, fuzzed industry-wide) and our code keeps the connection handling:

- HTTP/1.1 keep-alive and pipelining, HTTP/1.0 (``Connection: keep-alive``
  only when asked), ``Connection: close``;
- PEP 3333 environ (``PATH_INFO`` percent-decoded, ``RAW_URI`` as sent);
- request bodies by ``Content-Length`` or ``Transfer-Encoding: chunked``
  (decoded by ``wsgi.input``), ``Expect: 100-continue`` on the first read;
- refusals with a short plain answer and a close: malformed or smuggling-
  shaped requests 400, a missing, repeated or invalid ``Host`` 400
  (RFC 9112 §3.2), target over 8 KiB 414, head over 64 KiB or 100 headers
  431, other versions 505, unknown methods or transfer codings 501;
- time limits per request (``ServerLimits``): a head must arrive within
  ``head_timeout`` of its first byte (of the accept for a new connection),
  an idle keep-alive connection waits ``idle_timeout`` from its last answer,
  a body read or a send may stall ``io_timeout``;
- at most ``max_connections``: past it, the longest-idle keep-alive
  connection, else the oldest one still sending its head, makes room; a
  port whose connections are all busy answers 503;
- responses framed by the app's ``Content-Length``, else chunked (HTTP/1.1)
  or ended by closing (HTTP/1.0); each body chunk is sent as soon as the app
  yields it (NDJSON and SSE streams are never held back), the headers with
  the first chunk in one packet;
- ``stop(timeout)``: running requests finish, idle connections are closed.

The ``Host`` allow-list, body size limits and trusted proxy headers are the
apps' policy (``inbound.Guard``), answered in each port's own error shape.
What it does not: TLS, HTTP/2, protocol upgrades (WebSocket), request
trailers (dropped), ``wsgi.file_wrapper``, an access log, Unix sockets.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import time
from typing import TYPE_CHECKING, Any

from gevent.event import Event
from gevent.pool import Pool
from gevent.server import StreamServer

from ollama_webmgr.http_connection import (
    BUSY,
    IDLE,
    Connection,
    ServerLimits,
    linger,
    send_refusal,
)

__all__ = ["BACKLOG", "LeanWSGIServer"]

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

BACKLOG = 2048
_REFUSING_MAX = 64  # refused connections lingering at once


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
        limits: ServerLimits | None = None,
        backlog: int = BACKLOG,
        environ: dict[str, Any] | None = None,
        error_log: logging.Logger = log,
    ) -> None:
        self.app = app
        self.limits = limits or ServerLimits()
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
        self.connections: set[Connection] = set()
        self._refusing = 0
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
        for conn in list(self.connections):
            if conn.state != BUSY:
                conn.close_now()
        self._pool.join(timeout=self.stop_timeout if timeout is None else timeout)
        self._pool.kill(block=True, timeout=1)
        self._stopped.set()

    def _handle(self, sock: Any, address: Any) -> None:
        if len(self.connections) >= self.limits.max_connections and not self._evict():
            self._refuse(sock)
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(self, sock, address)
        self.connections.add(conn)
        try:
            conn.run()
        except Exception:
            self.error_log.exception("error serving a connection")
        finally:
            self.connections.discard(conn)

    def _refuse(self, sock: Any) -> None:
        """503 to a connection past the cap; a short linger so that a reset
        does not lose the answer, unless many are refused at once (a flood
        must not hold descriptors)."""
        send_refusal(sock, 503, "too many connections", "Retry-After: 1\r\n")
        if self._refusing < _REFUSING_MAX:
            self._refusing += 1
            try:
                linger(sock, 0.5)
            finally:
                self._refusing -= 1
        with contextlib.suppress(OSError):
            sock.close()

    def _evict(self) -> bool:
        """Make room: the longest-idle keep-alive connection, else the oldest
        one still sending its head (a slow client holds no request yet)."""
        waiting = [c for c in self.connections if c.state != BUSY and not c.evicted]
        if not waiting:
            return False
        idle = [c for c in waiting if c.state == IDLE]
        victim = min(idle or waiting, key=lambda c: c.since)
        victim.evicted = True
        victim.close_now()
        log.debug(
            "connection limit reached: closed one %s since %.1f s",
            victim.state,
            time.monotonic() - victim.since,
        )
        return True
