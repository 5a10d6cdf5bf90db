"""Production WSGI serving under gevent, shared by the web app and the gateway.

The web app is served by ``gevent.pywsgi`` (``make_server``), the gateway by
the leaner ``http_server.LeanWSGIServer`` (``make_gateway_server``), which
does less work per request. ``gevent.pywsgi`` writes headers
and body in separate packets; without ``TCP_NODELAY`` Nagle's algorithm delays
keep-alive responses by ~40 ms. Callers must have monkey-patched first (the
command line does).
"""

from __future__ import annotations

import _socket
import gc
import ipaddress
import logging
import signal
import socket
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Protocol

from gevent.pywsgi import WSGIHandler, WSGIServer
from gevent.resolver.thread import Resolver as ThreadResolver

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from ollama_webmgr.http_server import LeanWSGIServer

log = logging.getLogger(__name__)
# Connections waiting to be accepted (gevent's default is 128, gunicorn's 2048): a
# burst of a thousand clients must not see its connections dropped and retried.
BACKLOG = 2048
# Read buffer of each connection (default 8 KiB): a request line and its headers
# fit, larger bodies are read past it. A thousand open connections keep ~3 MB
# less resident.
READ_BUFFER = 2048


class Server(Protocol):
    """What the commands use of a server, pywsgi's or ``LeanWSGIServer``."""

    @property
    def server_port(self) -> int: ...

    def start(self) -> None: ...

    def stop(self, timeout: float | None = None) -> None: ...


class NoDelayHandler(WSGIHandler):  # type: ignore[misc]
    """A pywsgi handler that disables Nagle's algorithm on its connection."""

    def __init__(
        self, sock: socket.socket, address: Any, server: Any, rfile: Any = None
    ) -> None:
        if rfile is None:
            rfile = sock.makefile("rb", READ_BUFFER)
        super().__init__(sock, address, server, rfile)

    def handle(self) -> None:
        with suppress(OSError, AttributeError):  # e.g. a Unix socket
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle()


class LiteralFirstResolver(ThreadResolver):  # type: ignore[misc]
    """gevent's default resolver, except that IP literals are parsed in place.

    The default sends every ``getaddrinfo`` to gevent's thread pool, even for
    ``127.0.0.1``: a burst of new upstream connections (a thousand streams
    through the gateway) then starts its ten threads, each with its own malloc
    arena, about 10 MB more resident memory. An address needs no lookup.
    """

    def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:
        host = args[0] if args else kwargs.get("host")
        if is_ip_literal(host):
            return _socket.getaddrinfo(*args, **kwargs)
        return super().getaddrinfo(*args, **kwargs)


def is_ip_literal(host: object) -> bool:
    """
    >>> [is_ip_literal(h) for h in ("127.0.0.1", "::1", b"10.0.0.5", "gpu-box", None)]
    [True, True, True, False, False]
    """
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    for family in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(family, host)
        except (OSError, ValueError):
            continue
        return True
    return False


def use_literal_first_resolver() -> None:
    """Install ``LiteralFirstResolver`` on this thread's hub (after monkey-patching)."""
    import gevent

    hub = gevent.get_hub()
    hub.resolver = LiteralFirstResolver(hub)


def make_server(
    app: WSGIApplication, host: str, port: int, listener: socket.socket | None = None
) -> WSGIServer:
    """A started-on-demand gevent server; ``port`` 0 picks a free port.
    ``listener``: an already listening socket to serve instead (``prefork``).

    Access lines are left to the application (JSON logs); server errors go to
    the ``ollama_webmgr.serving`` logger. ``SERVER_NAME`` is the bound host:
    gevent would otherwise resolve its name in a thread that then stays, with
    a malloc arena of its own.
    """
    return WSGIServer(
        listener or (host, port),
        app,
        handler_class=NoDelayHandler,
        log=None,
        error_log=log,
        backlog=None if listener else BACKLOG,
        environ={"SERVER_NAME": host},
    )


def make_gateway_server(
    app: WSGIApplication, host: str, port: int, listener: socket.socket | None = None
) -> LeanWSGIServer:
    """``make_server`` for the gateway: the same tuning, on ``LeanWSGIServer``."""
    from ollama_webmgr.http_server import LeanWSGIServer

    return LeanWSGIServer(
        listener or (host, port),
        app,
        backlog=BACKLOG,
        read_buffer=READ_BUFFER,
        error_log=log,
    )


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "[::1]")]
    [True, True, True, True]
    >>> [is_loopback(h) for h in ("0.0.0.0", "", "192.168.1.20", "example.org")]
    [False, False, False, False]
    """
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, admin_password: str | None) -> str | None:
    """The warning to print when the app is reachable from the network unprotected.

    >>> exposure_warning("127.0.0.1", None) is None
    True
    >>> exposure_warning("0.0.0.0", "s3cret") is None
    True
    >>> print(exposure_warning("0.0.0.0", None))  # doctest: +ELLIPSIS
    WARNING: listening on 0.0.0.0 without ADMIN_PASSWORD: ...
    """
    if is_loopback(host) or admin_password:
        return None
    return (
        f"WARNING: listening on {host or 'all interfaces'} without ADMIN_PASSWORD:"
        " anyone who can reach this address can download and delete models."
        " Set ADMIN_PASSWORD or bind to 127.0.0.1."
    )


def display_url(host: str, port: int) -> str:
    """The URL to print for a bound address.

    >>> display_url("::1", 8000)
    'http://[::1]:8000/'
    >>> display_url("0.0.0.0", 8000)
    'http://0.0.0.0:8000/'
    """
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def wait_for_signal(servers: Sequence[Server], on_stop: Callable[[], None]) -> None:
    """Serve until SIGINT or SIGTERM, then stop ``servers`` and call ``on_stop``.

    The servers must be started already. Running requests get a few seconds to
    finish (``stop(timeout=)``); ``on_stop`` flushes and closes the services.
    """
    import gevent
    from gevent.event import Event

    # What was made until now lives as long as the process: out of the
    # collector's full passes, which otherwise add milliseconds to the
    # requests they interrupt (the gateway's p99 dropped by about a third).
    gc.freeze()
    stopping = Event()
    handlers = [
        gevent.signal_handler(number, stopping.set)
        for number in (signal.SIGINT, signal.SIGTERM)
    ]
    try:
        stopping.wait()
    finally:
        try:
            for server in servers:
                server.stop(timeout=5)
            on_stop()
        finally:
            # only now: a second signal (Ctrl+C to the process group, then the
            # supervisor's SIGTERM) must not end the process before on_stop
            for handler in handlers:
                handler.cancel()
