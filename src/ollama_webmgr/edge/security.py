"""Security defaults of the web app: response headers, body size, CSRF.

CSRF policy, for every state-changing request (POST, PUT, PATCH, DELETE):

1. A request whose ``Origin`` (or, without one, ``Sec-Fetch-Site: cross-site``)
   names another site is refused with 403, whatever else it carries.
2. JSON API routes (``/api/...``): POST, PUT and PATCH must be sent with
   ``Content-Type: application/json``, or 415. Browsers cannot send that type
   across sites without a CORS preflight, which this app never grants, so a
   hostile page cannot forge them. DELETE always needs a preflight cross-site.
   A request carrying a valid CSRF token (below) is accepted with another type,
   so HTMX forms may post to the API.
3. Every other route (HTML forms, HTMX fragments) needs the CSRF token, sent in
   the ``X-CSRF-Token`` header (``app.js`` adds it to every HTMX request, reading
   ``<meta name="csrf-token">``) or as a ``csrf_token`` form field; otherwise 403.

The token is a random per-browser nonce kept in the signed session cookie
(``SameSite=Lax``, ``HttpOnly``), signed again with ``SECRET_KEY``: a token is
only valid with the cookie of the browser it was issued to.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request, session
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeSerializer

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "manifest-src 'self'",
        "worker-src 'self'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
MAX_BODY_BYTES = 1024 * 1024
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SESSION_KEY = "csrf_nonce"
_SALT = "ollama-webmgr-csrf"


class BoundedJSONProvider(DefaultJSONProvider):
    """JSON nested deeper than the parser's recursion is invalid JSON (400),
    not an unexpected ``RecursionError`` (500), on every route that reads it."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class SchemeAwareSessionInterface(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over TLS
    (``wsgi.url_scheme`` https: set from a trusted proxy's
    ``X-Forwarded-Proto``, see ``inbound.TrustedProxies``)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def init_security(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")
    app.json = BoundedJSONProvider(app)
    app.session_interface = SchemeAwareSessionInterface()
    app.before_request(check_request)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def csrf_token() -> str:
    """The token for the current browser, creating its nonce on first use."""
    nonce = session.get(_SESSION_KEY)
    if not isinstance(nonce, str):
        nonce = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = nonce
    return _serializer().dumps(nonce)


def check_request() -> None:
    """``before_request`` hook: body size, then the CSRF policy above."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        abort(413)
    if request.method not in UNSAFE_METHODS or request.routing_exception is not None:
        return  # reads, and 404/405 answers, change nothing
    if is_cross_site():
        abort(403, "cross-site request")
    if has_valid_token():
        return
    if request.path.startswith("/api/"):
        if request.method != "DELETE" and request.mimetype != "application/json":
            abort(415)
        return
    abort(403, "missing or invalid CSRF token")


def is_cross_site() -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return request.headers.get("Sec-Fetch-Site") == "cross-site"
    # Compare hosts only: behind a TLS proxy the app may see http while the
    # browser says https.
    return origin == "null" or urlsplit(origin).netloc != request.host


def has_valid_token() -> bool:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = request.form.get(CSRF_FIELD)
    nonce = session.get(_SESSION_KEY)
    if not sent or not isinstance(nonce, str):
        return False
    try:
        signed = _serializer().loads(sent)
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, nonce)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=_SALT)
