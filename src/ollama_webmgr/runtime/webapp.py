"""The web app: one Flask application that both faces hang on.

``web/`` (HTML pages) and ``api/`` (the JSON API) never import each other; this
factory mounts them side by side, with what every request goes through
(``edge/``: the password, the error edge) and ``web/``'s security, logs and
metrics. No side effects at import.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask, request

from ollama_webmgr.api import (
    routes_cluster,
    routes_docs,
    routes_downloads,
    routes_gateway,
    routes_history,
    routes_remote,
    routes_running,
)
from ollama_webmgr.api.routes import register_api
from ollama_webmgr.edge.auth import init_auth
from ollama_webmgr.edge.database import init_db
from ollama_webmgr.edge.errors import init_errors
from ollama_webmgr.edge.security import init_security
from ollama_webmgr.edge.services import install_services
from ollama_webmgr.french import wording
from ollama_webmgr.ollama.seed_cache import SeedCache
from ollama_webmgr.ollama.seed_registry import PREFIX, SeedRegistry
from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.settings import Settings
from ollama_webmgr.usecases import download_settings
from ollama_webmgr.usecases.servers import primary_server
from ollama_webmgr.web import (
    dashboard,
    dist,
    downloads_page,
    formatting,
    gateway_page,
    health,
    models_pages,
    observability,
    pwa,
    running,
    search,
    servers,
)
from ollama_webmgr.web.errors import page_error
from ollama_webmgr.web.htmx import flashed_toasts, htmx_redirects
from ollama_webmgr.web.metrics import init_metrics
from ollama_webmgr.web.request_log import init_request_log

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WEB_ROOT = Path(__file__).parent.parent / "web"


def create_app(
    settings: Settings | None = None, *, services: Services | None = None
) -> Flask:
    """Build the web app; raises ``AssetsNotBuilt`` when ``make assets`` is needed.

    ``services`` (tests pass fakes) wins over ``settings``; without either, the
    settings are read from the environment.
    """
    if services is None:
        services = build_services(settings or Settings.from_env())
    settings = services.settings
    # templates and static files are the pages' own (``web/``)
    app = Flask(__name__, root_path=str(WEB_ROOT))
    # Without SECRET_KEY, sessions and CSRF tokens last until the next restart.
    app.secret_key = settings.secret_key or secrets.token_hex(32)
    install_services(app, services)
    init_db(app, services.db)  # get_db() for code that only needs the store
    manifest = dist.AssetManifest.load()
    app.extensions[dist.EXTENSION_KEY] = manifest

    init_request_log(app)
    init_auth(app, settings.admin_password)
    init_security(app)
    init_errors(app, page_error)
    init_metrics(app, services.runner)
    app.after_request(htmx_redirects)
    _init_templates(app, services, manifest)

    for blueprint in (
        dist.bp,
        health.bp,
        pwa.bp,
        dashboard.bp,
        models_pages.bp,
        running.bp,
        search.bp,
        servers.bp,
        observability.bp,
        gateway_page.bp,
        downloads_page.bp,
        routes_running.bp,
        routes_remote.bp,
        routes_cluster.bp,
        routes_history.bp,
        routes_gateway.bp,
        routes_downloads.bp,
        routes_docs.bp,
    ):
        app.register_blueprint(blueprint)
    register_api(app)
    seed_cache = SeedCache(settings.seed_cache_path)
    # the jobs and the gateway fill this directory without the settings: its bound
    seed_cache.publish_max_size(settings.seed_cache_max_size)
    app.wsgi_app = _SeedMount(  # type: ignore[method-assign]
        app.wsgi_app,
        SeedRegistry(
            seed_cache,
            download_settings.NodeRate(services.db, settings),
        ),
    )
    return app


class _SeedMount:
    """``/v2/`` goes to the seed cache before Flask: the nodes pull from it
    without a session or a password, and it serves only models being seeded
    (``ollama/seed_registry.py``)."""

    def __init__(self, app: WSGIApplication, cache: WSGIApplication) -> None:
        self.app = app
        self.cache = cache

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith(PREFIX):
            return self.cache(environ, start_response)
        return self.app(environ, start_response)


def _init_templates(
    app: Flask, services: Services, manifest: dist.AssetManifest
) -> None:
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.globals["asset"] = manifest.url
    app.jinja_env.globals["flashed_toasts"] = flashed_toasts
    app.jinja_env.filters.update(
        size=formatting.format_size,
        number=formatting.format_number,
        count=formatting.format_count,
        parameters=formatting.format_parameters,
        plural=formatting.plural,
        relative=formatting.relative_time,
        capability=wording.capability_label,
        input_kind=wording.input_label,
        job_state=wording.state_label,
        job_status=wording.status_text,
        rate=wording.rate_text,
    )

    @app.context_processor
    def _shell_context() -> dict[str, object]:
        # Disabled servers are not offered (they stay on the servers page).
        servers = services.servers.active()
        chosen = request.args.get("server")
        # The model pages read the same ``?server=`` choice (a server name).
        current = next((s for s in servers if s.name == chosen), None)
        if current is None and servers:
            current = primary_server(services.servers)
        return {"nav_servers": servers, "current_server": current}
