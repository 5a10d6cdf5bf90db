"""The optional admin password (``ADMIN_PASSWORD``) and who did what.

With a password set, every page and API call needs HTTP Basic credentials whose
password matches (any user name; it is kept in the audit trail). Left open: the
health check (for load balancers) and what a browser fetches before it can ask
for credentials (static assets, manifest, service worker, offline page).
"""

from __future__ import annotations

import hmac

from flask import Flask, Response, request

from ollama_webmgr.web.errors import error_response
from ollama_webmgr.web.messages import ErrorView

OPEN_PATHS = frozenset({"/health", "/manifest.json", "/service-worker.js", "/offline"})
REALM = 'Basic realm="ollama-webmgr", charset="UTF-8"'


def init_auth(app: Flask, password: str | None) -> None:
    if not password:
        return

    @app.before_request
    def _require_password() -> Response | None:
        if request.path in OPEN_PATHS or request.path.startswith("/static/"):
            return None
        given = request.authorization
        if (
            given is not None
            and given.type == "basic"
            and hmac.compare_digest((given.password or "").encode(), password.encode())
        ):
            return None
        view = ErrorView(
            401,
            "unauthorized",
            "Identification requise : mot de passe d’administration.",
        )
        response = error_response(view)
        response.headers["WWW-Authenticate"] = REALM
        return response


def current_actor() -> str:
    """Who makes the current request, for the audit trail: user and address."""
    address = request.remote_addr or "inconnu"
    given = request.authorization
    if given is not None and given.username:
        return f"{given.username}@{address}"
    return address
