"""``ollama-webmgr serve``: the web app and the gateway in one gevent process.

Both servers are bound first (a busy port fails at once), then the background
parts start (stored jobs restored, first health round, reconciliation,
schedule), then the addresses are printed: once printed, everything answers.
SIGINT or SIGTERM ends the running jobs ``interrupted`` (they can be retried
after the next start), stops the servers, flushes the request records and
closes the store, within 5 seconds; the process then exits 0.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ollama_webmgr.cli_french import french_error
from ollama_webmgr.errors import WebmgrError
from ollama_webmgr.serving import (
    display_url,
    ensure_descriptors,
    exposure_warning,
    make_gateway_server,
    make_web_server,
    wait_for_signal,
)
from ollama_webmgr.wiring import Services, build_services

if TYPE_CHECKING:
    from flask import Flask

    from ollama_webmgr.serving import Server
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
) -> None:
    """Serve until a signal; ``gateway_port`` None runs the web app alone.

    ``prepare`` sees the services before anything starts (the demo names its
    nodes there); ``announce`` runs once everything answers.
    """
    from ollama_webmgr.web.app import create_app

    try:
        services = build_services(settings)
    except WebmgrError as exc:  # e.g. a store that cannot be opened
        raise click.ClickException(french_error(exc)) from None
    try:
        if prepare is not None:
            prepare(services)
        app = create_app(services=services)
        servers = _bind(services, app, host, port, gateway_port)
        ensure_descriptors(len(servers), settings)
        services.start()
    except WebmgrError as exc:  # AssetsNotBuilt, StoreError...
        services.close()
        raise click.ClickException(french_error(exc)) from None
    except BaseException:
        services.close()
        raise
    warning = exposure_warning(host, settings.admin_password)
    if warning:
        click.secho(warning, fg="red", bold=True, err=True)
    bound = Bound(
        display_url(host, servers[0].server_port),
        display_url(host, servers[1].server_port).rstrip("/")
        if len(servers) > 1
        else None,
    )
    click.echo(f"ollama-webmgr: {bound.web_url}")
    if bound.gateway_url:
        click.echo(f"ollama-webmgr gateway: {bound.gateway_url}")
    if announce is not None:
        announce(bound)
    wait_for_signal(servers, services.close, on_signal=services.interrupt_jobs)


def _bind(
    services: Services,
    app: Flask,
    host: str,
    port: int,
    gateway_port: int | None,
) -> list[Server]:
    """The web app's server, then the gateway's: the same server, each port
    with its own connections, limits and error shapes."""
    settings = services.settings
    wanted: list[tuple[Callable[..., Server], object, int]] = [
        (make_web_server, app, port)
    ]
    if gateway_port is not None:
        wanted.append((make_gateway_server, services.gateway.app, gateway_port))
    started: list[Server] = []
    for make, wsgi, number in wanted:
        server = make(wsgi, host, number, settings)
        try:
            server.start()
        except OSError as exc:
            for running in started:
                running.stop()
            reason = "port déjà utilisé" if exc.errno == errno.EADDRINUSE else exc
            raise click.ClickException(
                f"impossible d’écouter sur {host}:{number} : {reason}"
            ) from None
        started.append(server)
    return started
