"""``ollama-webmgr serve``: the web app and the gateway in one gevent process
(or, with ``--workers N``, in each of N workers under a supervisor: ``supervise``).

Both servers are bound first (a busy port fails at once), then the background
parts start (stored jobs restored, first health round, reconciliation,
schedule), then the addresses are printed: once printed, everything answers.
SIGINT or SIGTERM ends the running jobs ``interrupted`` (they can be retried
after the next start), stops the servers, flushes the request records and
closes the store, within 5 seconds; the process then exits 0.
"""

from __future__ import annotations

import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import click

from ollama_webmgr.cli_french import french_error
from ollama_webmgr.errors import WebmgrError
from ollama_webmgr.runtime.prefork import sd_notify, worker_argv
from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.runtime.serving import (
    display_url,
    ensure_descriptors,
    exposure_warning,
    make_gateway_server,
    make_web_server,
    wait_for_signal,
)
from ollama_webmgr.runtime.supervise import (
    bind,
    cannot_listen,
    check_workers,
    parse_worker_fds,
    supervise,
    worker_fds_argument,
)

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from flask import Flask

    from ollama_webmgr.runtime.serving import Server
    from ollama_webmgr.settings import Settings


@dataclass(frozen=True)
class Bound:
    """Where the started process answers (``gateway_url`` None without it)."""

    web_url: str
    gateway_url: str | None


def run_serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    gateway_port: int | None,
    prepare: Callable[[Services], None] | None = None,
    announce: Callable[[Bound], None] | None = None,
    workers: int = 1,
    worker_fds: str | None = None,
) -> None:
    """Serve until a signal; ``gateway_port`` None runs the web app alone.

    ``prepare`` sees the services before anything starts (the demo names its
    nodes there); ``announce`` runs once everything answers. ``workers`` > 1:
    a supervisor and that many worker processes on the same ports
    (``supervise``); ``worker_fds``: this process is one of them.
    """
    if worker_fds is None and workers > 1:
        _supervise_serve(settings, host, port, gateway_port, workers, announce)
        return
    from ollama_webmgr.runtime.webapp import create_app

    link, listeners = parse_worker_fds(worker_fds) if worker_fds else (None, [])
    recorder = link.recorder() if link and gateway_port is not None else None
    try:
        services = build_services(settings, recorder=recorder)
    except WebmgrError as exc:  # e.g. a store that cannot be opened
        raise click.ClickException(french_error(exc)) from None
    try:
        if prepare is not None:
            prepare(services)
        app = create_app(services=services)
        servers = _bind(services, app, host, port, gateway_port, listeners)
        follow_web_port(services, servers[0].server_port)
        ensure_descriptors(len(servers), settings)
        services.start()
    except WebmgrError as exc:  # AssetsNotBuilt, StoreError...
        services.close()
        raise click.ClickException(french_error(exc)) from None
    except BaseException:
        services.close()
        raise
    if link is not None:
        link.ready()
        link.stop_when_lost()
    else:
        _refuse_reload()
        _announce(settings, host, [s.server_port for s in servers], announce)
        sd_notify("READY=1")  # systemd's Type=notify, with one worker
    wait_for_signal(servers, services.close, on_signal=services.interrupt_jobs)


def follow_web_port(services: Services, port: int) -> None:
    """Without ``SEED_CACHE_URL`` the nodes find the seed cache on the port the
    web app is bound to (``--port``, 0 included), not ``WEBMGR_PORT``'s: the
    jobs read it from the settings, the gateway from its seed source."""
    settings = services.settings
    if settings.seed_cache_url or settings.port == port:
        return
    services.settings = replace(settings, port=port)
    gateway = services.gateway.app
    if gateway.seed_source is not None:
        address = services.settings.seed_cache_address
        gateway.seed_source = replace(gateway.seed_source, cache_url=address)


def _refuse_reload() -> None:
    """SIGHUP (``systemctl reload``) would end a lone process: say what to do."""
    import gevent

    def refuse() -> None:
        log.warning("SIGHUP ignored: reloading takes --workers 2 or more; restart")

    gevent.signal_handler(signal.SIGHUP, refuse)


def _announce(
    settings: Settings,
    host: str,
    ports: list[int],
    announce: Callable[[Bound], None] | None,
) -> None:
    """The exposure warning, then the addresses (once everything answers)."""
    warning = exposure_warning(host, settings.admin_password)
    if warning:
        click.secho(warning, fg="red", bold=True, err=True)
    bound = Bound(
        display_url(host, ports[0]),
        display_url(host, ports[1]).rstrip("/") if len(ports) > 1 else None,
    )
    click.echo(f"ollama-webmgr: {bound.web_url}")
    if bound.gateway_url:
        click.echo(f"ollama-webmgr gateway: {bound.gateway_url}")
    if announce is not None:
        announce(bound)


def _supervise_serve(
    settings: Settings,
    host: str,
    port: int,
    gateway_port: int | None,
    workers: int,
    announce: Callable[[Bound], None] | None,
) -> None:
    check_workers(workers, settings)
    sockets = bind(host, [port] if gateway_port is None else [port, gateway_port])
    ports = [int(sock.getsockname()[1]) for sock in sockets]
    ports_args = (
        ["--gateway-port", str(ports[1])] if len(ports) > 1 else ["--no-gateway"]
    )

    def command(channel: int) -> list[str]:
        fds = worker_fds_argument(channel, sockets)
        return worker_argv(
            "serve", "--host", host, "--port", str(ports[0]), *ports_args,
            "--worker-fds", fds,
        )  # fmt: skip

    supervise(
        settings,
        sockets,
        workers,
        command,
        lambda: _announce(settings, host, ports, announce),
    )


def _bind(
    services: Services,
    app: Flask,
    host: str,
    port: int,
    gateway_port: int | None,
    listeners: list[socket.socket],
) -> list[Server]:
    """The web app's server, then the gateway's: the same server, each port
    with its own connections, limits and error shapes; on ``listeners`` when
    given (a worker's), else bound here."""
    settings = services.settings
    wanted: list[tuple[Callable[..., Server], object, int]] = [
        (make_web_server, app, port)
    ]
    if gateway_port is not None:
        wanted.append((make_gateway_server, services.gateway.app, gateway_port))
    started: list[Server] = []
    for index, (make, wsgi, number) in enumerate(wanted):
        listener = listeners[index] if listeners else None
        server = make(wsgi, host, number, settings, listener)
        try:
            server.start()
        except OSError as exc:
            for running in started:
                running.stop()
            raise cannot_listen(host, number, exc) from None
        started.append(server)
    return started
