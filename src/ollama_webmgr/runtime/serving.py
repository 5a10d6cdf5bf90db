"""Production WSGI serving under gevent, shared by the web app and the gateway.

Both ports are served by ``http_server.LeanWSGIServer`` behind
``inbound.Guard`` (trusted proxy headers, ``Host`` allow-list, body size),
each with its own limits from the settings and its own error shape
(``make_web_server``, ``make_gateway_server``). Callers must have
monkey-patched first (the command line does). ``make_pywsgi_server`` stays
for the benchmarks' comparison only.
"""

from __future__ import annotations

import _socket
import gc
import ipaddress
import logging
import resource
import signal
import socket
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Protocol

from gevent.resolver.thread import Resolver as ThreadResolver

from ollama_webmgr.http_connection import ServerLimits
from ollama_webmgr.http_server import BACKLOG, LeanWSGIServer
from ollama_webmgr.inbound import Guard, HostPolicy, Refuser, TrustedProxies

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication
    from flask import Flask
    from gevent.pywsgi import WSGIServer

    from ollama_webmgr.settings import Settings

log = logging.getLogger(__name__)
#: seconds running requests get to finish once the process is told to stop
STOP_GRACE_S = 2.0
# Read buffer of each pywsgi connection (default 8 KiB).
READ_BUFFER = 2048
# Descriptors kept for everything but client connections (store, Redis,
# logs, upstream pools beyond one per stream).
_SPARE_DESCRIPTORS = 256


class Server(Protocol):
    """What the commands use of a server."""

    @property
    def server_port(self) -> int: ...

    def start(self) -> None: ...

    def stop(self, timeout: float | None = None) -> None: ...


def server_limits(settings: Settings) -> ServerLimits:
    return ServerLimits(
        head_timeout=settings.http_head_timeout,
        idle_timeout=settings.http_idle_timeout,
        max_connections=settings.http_max_connections,
    )


def _guarded(
    app: WSGIApplication,
    host: str,
    settings: Settings,
    *,
    max_body: int,
    refuse: Refuser,
    streamed: Callable[[str], bool] | None = None,
) -> Guard:
    return Guard(
        app,
        hosts=HostPolicy.for_bind(host, settings.allowed_hosts),
        max_body=max_body,
        refuse=refuse,
        proxies=TrustedProxies.parse(settings.forwarded_allow_ips),
        **({"streamed": streamed} if streamed else {}),
    )


def make_web_server(
    app: Flask,
    host: str,
    port: int,
    settings: Settings,
    listener: socket.socket | None = None,
) -> LeanWSGIServer:
    """The web app's server; ``port`` 0 picks a free port (``start()`` binds).
    ``listener``: an already listening socket to serve instead (``prefork``)."""
    from ollama_webmgr.edge.errors import refusal
    from ollama_webmgr.edge.security import MAX_BODY_BYTES

    guarded = _guarded(
        app, host, settings, max_body=MAX_BODY_BYTES, refuse=refusal(app)
    )
    return _lean(guarded, host, port, settings, listener)


def make_gateway_server(
    app: WSGIApplication,
    host: str,
    port: int,
    settings: Settings,
    listener: socket.socket | None = None,
) -> LeanWSGIServer:
    """The gateway's server: blob uploads are streamed, never held (no limit)."""
    from ollama_webmgr.gateway.responses import refusal

    guarded = _guarded(
        app,
        host,
        settings,
        max_body=settings.max_body_size,
        refuse=refusal,
        streamed=is_blob_upload,
    )
    return _lean(guarded, host, port, settings, listener)


def is_blob_upload(path: str) -> bool:
    return path.startswith("/api/blobs/")


def _lean(
    app: WSGIApplication,
    host: str,
    port: int,
    settings: Settings,
    listener: socket.socket | None,
) -> LeanWSGIServer:
    # SERVER_NAME is the bound host: no name resolution (and no resolver thread)
    return LeanWSGIServer(
        listener or (host, port),
        app,
        limits=server_limits(settings),
        backlog=BACKLOG,
        environ={"SERVER_NAME": host},
        error_log=log,
    )


def ensure_descriptors(ports: int, settings: Settings) -> None:
    """Raise the soft descriptor limit so that every port can hold its
    ``HTTP_MAX_CONNECTIONS`` (two descriptors each: a gateway stream has an
    upstream socket too) without starving the others; warn when it cannot."""
    needed = ports * settings.http_max_connections * 2 + _SPARE_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    with suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft < needed:
        log.warning(
            "descriptor limit %d is below the %d that HTTP_MAX_CONNECTIONS=%d"
            " needs on %d port(s): lower it or raise `ulimit -n`",
            soft,
            needed,
            settings.http_max_connections,
            ports,
        )


def make_pywsgi_server(app: WSGIApplication, host: str, port: int) -> WSGIServer:
    """gevent's pywsgi, as the benchmarks compare it (never used to serve)."""
    from gevent.pywsgi import WSGIHandler, WSGIServer

    class NoDelayHandler(WSGIHandler):  # type: ignore[misc]
        def __init__(self, sock: socket.socket, address: Any, server: Any) -> None:
            super().__init__(sock, address, server, sock.makefile("rb", READ_BUFFER))

        def handle(self) -> None:
            with suppress(OSError, AttributeError):
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

    return WSGIServer(
        (host, port),
        app,
        handler_class=NoDelayHandler,
        log=None,
        error_log=log,
        backlog=BACKLOG,
        environ={"SERVER_NAME": host},
    )


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
    ATTENTION : écoute sur 0.0.0.0 sans ADMIN_PASSWORD : ...
    """
    if is_loopback(host) or admin_password:
        return None
    return (
        f"ATTENTION : écoute sur {host or 'toutes les interfaces'} sans"
        " ADMIN_PASSWORD : quiconque joint cette adresse peut télécharger et"
        " supprimer des modèles. Définissez ADMIN_PASSWORD ou écoutez sur 127.0.0.1."
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


def wait_for_signal(
    servers: Sequence[Server],
    on_stop: Callable[[], None],
    *,
    on_signal: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGINT or SIGTERM, then stop ``servers`` and call ``on_stop``.

    The servers must be started already. ``on_signal`` runs first (running
    jobs end ``interrupted``, so their progress streams end too); then the
    servers stop together, running requests getting ``STOP_GRACE_S`` seconds
    (an open progress stream would otherwise hold the exit); ``on_stop``
    flushes and closes the services. The whole stays under 5 seconds.
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
            try:
                if on_signal is not None:
                    on_signal()
            finally:
                gevent.joinall(
                    [
                        gevent.spawn(server.stop, timeout=STOP_GRACE_S)
                        for server in servers
                    ]
                )
                on_stop()
        finally:
            # only now: a second signal (Ctrl+C to the process group, then the
            # supervisor's SIGTERM) must not end the process before on_stop
            for handler in handlers:
                handler.cancel()
