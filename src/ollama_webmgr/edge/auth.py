"""The optional admin password (``ADMIN_PASSWORD``) and who did what.

With a password set, every page and API call needs HTTP Basic credentials whose
password matches (any user name; it is kept in the audit trail). Left open: the
health check (for load balancers; its details need the password) and what a
browser fetches before it can ask for credentials (static assets, manifest,
service worker, offline page). Failed attempts are limited (``attempts``): past
the limit, 429 with ``Retry-After`` and a French message.
"""

from __future__ import annotations

import hmac

from flask import Flask, Response, current_app, request

from ollama_webmgr.edge.attempts import AttemptLimiter
from ollama_webmgr.edge.errors import bare_error
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.french.messages import ErrorView
from ollama_webmgr.usecases.actor import Actor

OPEN_PATHS = frozenset({"/health", "/manifest.json", "/service-worker.js", "/offline"})
REALM = 'Basic realm="ollama-webmgr", charset="UTF-8"'
EXTENSION_KEY = "ollama_webmgr.auth"


def init_auth(app: Flask, password: str | None) -> None:
    if not password:
        return
    limiter = app.extensions[EXTENSION_KEY] = AttemptLimiter()

    @app.before_request
    def _require_password() -> Response | None:
        if request.path in OPEN_PATHS or request.path.startswith("/static/"):
            return None
        given = request.authorization
        if given is None or given.type != "basic":
            return _challenge()
        client = request.remote_addr or ""
        wait = limiter.retry_after(client)
        if wait:
            return _too_many(wait)
        if _matches(given.password, password):
            return None
        limiter.failed(client)
        return _challenge()


def is_admin() -> bool:
    """Whether the current request may see admin details: no password is set,
    or it carries the right one (never counted as an attempt)."""
    limiter = current_app.extensions.get(EXTENSION_KEY)
    if limiter is None:
        return True
    given = request.authorization
    password = get_services().settings.admin_password or ""
    return (
        given is not None
        and given.type == "basic"
        and limiter.retry_after(request.remote_addr or "") == 0
        and _matches(given.password, password)
    )


def _matches(given: str | None, password: str) -> bool:
    return hmac.compare_digest((given or "").encode(), password.encode())


def _challenge() -> Response:
    view = ErrorView(
        401,
        "unauthorized",
        "Identification requise : mot de passe d’administration.",
    )
    response = bare_error(view)  # nothing of the app before the password
    response.headers["WWW-Authenticate"] = REALM
    return response


def _too_many(wait: int) -> Response:
    view = ErrorView(
        429,
        "too_many_attempts",
        f"Trop de tentatives de connexion : réessayez dans {wait} s.",
    )
    response = bare_error(view)
    response.headers["Retry-After"] = str(wait)
    return response


def current_actor() -> Actor:
    """Who makes the current request, for the audit trail: user and address."""
    address = request.remote_addr or "inconnu"
    given = request.authorization
    if given is not None and given.username:
        return Actor(f"{given.username}@{address}")
    return Actor(address)
