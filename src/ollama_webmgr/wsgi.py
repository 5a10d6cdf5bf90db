"""WSGI entry points for gunicorn: ``ollama_webmgr.wsgi:app`` and ``:gateway``.

``app`` is the web application, ``gateway`` the Ollama-compatible gateway, both
over one ``Services`` built from ``Settings.from_env()`` the first time either
is asked for (importing this module opens nothing). gunicorn loads the app in
each worker after forking, so every worker has its own store connections.

gevent must have monkey-patched the process before this module is imported:
``gunicorn -k gevent`` (``worker_class = "gevent"`` in ``deploy/gunicorn.conf.py``)
does it in each worker before loading the app.

The background parts that ``ollama-webmgr serve`` starts (health monitor,
request recorder, scheduler, hardware polling, restored jobs) are started by
``start_background()`` and stopped by ``stop_background()``; the gunicorn
configuration calls them from its ``post_worker_init`` and ``worker_exit`` hooks.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ollama_webmgr.logging_setup import configure_logging
from ollama_webmgr.settings import Settings
from ollama_webmgr.wiring import Services, build_services

if TYPE_CHECKING:
    from flask import Flask

    from ollama_webmgr.gateway.app import Gateway

#: which entry points this process serves ("app", "gateway")
_served: set[str] = set()


@cache
def services() -> Services:
    """The services of this process, built once from the environment."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return build_services(settings)


@cache
def web_app() -> Flask:
    from ollama_webmgr.web.app import create_app

    _served.add("app")
    return create_app(services=services())


def gateway_app() -> Gateway:
    _served.add("gateway")
    return services().gateway.app


def __getattr__(name: str) -> Any:
    # PEP 562: ``module:app`` builds only what the server asks for.
    if name == "app":
        return web_app()
    if name == "gateway":
        return gateway_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def start_background() -> None:
    """Start what ``serve`` starts; the job records belong to the web app, so a
    gateway-only process leaves them alone (like ``ollama-webmgr gateway``)."""
    if _served:
        services().start(jobs="app" in _served)


def stop_background() -> None:
    """Stop the background parts, flush the request records, close the store."""
    if _served:
        services().close()
