"""Checking query parameters; a bad one is a clear French 400 (404 for a server).

Like ``api/inputs.py`` (JSON bodies), the answer goes through the JSON error
edge (``{"error": {"code", "message"}}``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NoReturn

from flask import abort, request

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.edge.errors import error_response
from ollama_webmgr.errors import UnknownServer
from ollama_webmgr.french.messages import ErrorView, unknown_server_named
from ollama_webmgr.usecases.servers import find_server


def fail(
    message: str, *, status: int = 400, code: str = "invalid_parameter"
) -> NoReturn:
    abort(error_response(ErrorView(status, code, message)))


def choice(name: str, allowed: Collection[str], default: str | None = None) -> str:
    """Query parameter ``name``, one of ``allowed`` (required without a default)."""
    value = request.args.get(name, default)
    if value is None or value == "":
        fail(f"Paramètre « {name} » manquant : valeurs possibles {_listing(allowed)}.")
    if value not in allowed:
        fail(
            f"Valeur « {value} » invalide pour « {name} » :"
            f" valeurs possibles {_listing(allowed)}."
        )
    return value


def integer(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        fail(f"« {name} » doit être un entier entre {low} et {high} (reçu « {raw} »).")
    return value


def server_of(registry: ServerRegistry, value: str) -> Server:
    """A server given by name, address (``host:port``) or URL; unknown -> 404."""
    try:
        return find_server(registry, value)
    except UnknownServer:
        fail(unknown_server_named(value), status=404, code="unknown_server")


def _listing(allowed: Collection[str]) -> str:
    return ", ".join(allowed)
