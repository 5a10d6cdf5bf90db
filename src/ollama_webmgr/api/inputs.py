"""Reading API requests: JSON bodies, the ``server`` choice, French 400 answers.

``bad_request`` stops the request with the JSON error shape of ``web/errors.py``
(``{"error": {"code", "message"}}``) and a French message naming what is wrong.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import abort, request

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import UnknownServer
from ollama_webmgr.french.messages import ErrorView
from ollama_webmgr.store.records import record_audit
from ollama_webmgr.web.auth import current_actor
from ollama_webmgr.web.errors import error_response
from ollama_webmgr.wiring import Services

ALL_SERVERS = "all"


def bad_request(message: str, code: str = "invalid_request") -> NoReturn:
    abort(error_response(ErrorView(400, code, message)))


def json_body() -> dict[str, Any]:
    """The request's JSON object, or a 400 in French."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        bad_request("Corps de requête invalide : un objet JSON est attendu.")
    return data


def text_field(data: dict[str, Any], key: str) -> str:
    """A required, non-empty string field (stripped)."""
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        bad_request(f"Champ « {key} » manquant ou vide.")
    return value.strip()


def optional_text(data: dict[str, Any], key: str) -> str | None:
    """An optional string field: absent or null gives None, anything else is checked."""
    if data.get(key) is None:
        return None
    return text_field(data, key)


def server_named(services: Services, name: str | None) -> Server:
    """The named server, or the primary (first enabled) one when ``name`` is empty."""
    if name:
        try:
            return services.servers.get(name)
        except KeyError:
            raise UnknownServer(f"unknown server {name!r}") from None
    active = services.servers.active()
    if not active:
        raise UnknownServer("no enabled server")
    return active[0]


def servers_chosen(services: Services, choice: str | None) -> list[Server]:
    """``all`` → every enabled server; otherwise the one named (or the primary)."""
    if choice == ALL_SERVERS:
        return services.servers.active()
    return [server_named(services, choice)]


def audit(services: Services, action: str, target: str, **details: Any) -> None:
    """Record who did what, for the audit trail."""
    record_audit(services.db, current_actor().name, action, target, details)
