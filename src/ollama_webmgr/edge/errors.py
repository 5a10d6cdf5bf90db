"""The web app's edge of the exception tree: every error becomes a proper answer.

- ``/api/...`` gets JSON ``{"error": {"code", "message"}}`` with a meaningful
  status, never a traceback (an unexpected exception is logged and answered 500
  with its ``request_id``);
- anything else gets what ``web/`` draws for it (``PageError``: a fragment and
  a ``toast`` for HTMX, the French ``errors.html`` page for a visit).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from ollama_webmgr.errors import WebmgrError
from ollama_webmgr.french.messages import ErrorView, describe_error, http_message
from ollama_webmgr.logging_setup import request_id_var

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

#: draws an error for a person: (the error, its request id or None) -> answer
PageError = Callable[[ErrorView, str | None], Response]
EXTENSION_KEY = "ollama_webmgr.page_error"


def init_errors(app: Flask, page: PageError) -> None:
    """Answer every error of ``app``; ``page`` draws those outside ``/api/``."""
    app.extensions[EXTENSION_KEY] = page
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(WebmgrError, _webmgr_error)
    app.register_error_handler(Exception, _unexpected_error)


def _http_error(exc: HTTPException) -> Response | HTTPException:
    if exc.code is None or exc.response is not None:
        return exc  # already a complete response (e.g. ``abort(response)``)
    status = exc.code
    code = (exc.name or "error").lower().replace(" ", "_")
    response = error_response(ErrorView(status, code, http_message(status)))
    if status == 405:
        valid = getattr(exc, "valid_methods", None)
        if valid:
            response.headers["Allow"] = ", ".join(valid)
    return response


def _webmgr_error(exc: WebmgrError) -> Response:
    view = describe_error(exc)
    log.warning("request failed: %s", exc, extra={"error_code": view.code})
    return error_response(view)


def _unexpected_error(exc: Exception) -> Response:
    log.exception("unexpected error")
    return error_response(
        ErrorView(500, "internal_error", http_message(500)), with_request_id=True
    )


def error_response(view: ErrorView, *, with_request_id: bool = False) -> Response:
    """Answer ``view`` in the form the client expects (JSON, fragment or page)."""
    request_id = request_id_var.get() if with_request_id else None
    if request.path.startswith("/api/"):
        response = json_error(view, request_id)
    else:
        page: PageError = current_app.extensions[EXTENSION_KEY]
        response = page(view, request_id)
    response.status_code = view.status
    return response


def json_error(view: ErrorView, request_id: str | None = None) -> Response:
    """The JSON API's error shape: ``{"error": {"code", "message"}}``."""
    body: dict[str, object] = {"code": view.code, "message": view.message}
    if request_id:
        body["request_id"] = request_id
    response = jsonify(error=body)
    response.status_code = view.status
    return response


_FORBIDDEN_HOST = ErrorView(
    403,
    "forbidden_host",
    "Nom d’hôte non autorisé : ajoutez-le à ALLOWED_HOSTS pour ouvrir"
    " l’application sous ce nom.",
)
_BARE_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Erreur {status} · Ollama WebMgr</title></head>
<body><h1>Erreur {status}</h1><p>{message}</p></body></html>
"""


def refusal(app: Flask) -> Callable[..., Iterable[bytes]]:
    """What ``inbound.Guard`` answers on the web port, in French.

    A refused ``Host`` may be a rebinding page reading the answer as its own:
    it gets a bare page (or JSON under ``/api/``) that shows nothing of the
    app, sets no cookie and touches no service. Other refusals (413) get the
    app's own page, fragment or JSON.
    """

    def refuse(
        environ: WSGIEnvironment, start_response: StartResponse, status: int
    ) -> Iterable[bytes]:
        if status == 403:
            return _bare(environ, start_response, _FORBIDDEN_HOST)
        view = ErrorView(status, "payload_too_large", http_message(status))
        if status != 413:
            view = ErrorView(status, "refused", http_message(status))
        with app.request_context(environ):
            response = error_response(view)
        return response(environ, start_response)

    return refuse


def bare_error(view: ErrorView) -> Response:
    """``view`` for someone not let in: a page (or JSON under ``/api/``) that
    shows nothing of the app (no servers in a menu) and sets no cookie."""
    body, ctype = _bare_body(view, request.path)
    response = Response(body, status=view.status, content_type=ctype)
    response.headers["Cache-Control"] = "no-store"
    return response


def _bare(
    environ: WSGIEnvironment, start_response: StartResponse, view: ErrorView
) -> Iterable[bytes]:
    body, ctype = _bare_body(view, str(environ.get("PATH_INFO", "")))
    headers = [
        ("Content-Type", ctype),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
    ]
    start_response(f"{view.status} Forbidden", headers)
    return [body]


def _bare_body(view: ErrorView, path: str) -> tuple[bytes, str]:
    if path.startswith("/api/"):
        error = {"code": view.code, "message": view.message}
        return json.dumps({"error": error}).encode(), "application/json"
    page = _BARE_PAGE.format(status=view.status, message=view.message)
    return page.encode(), "text/html; charset=utf-8"
