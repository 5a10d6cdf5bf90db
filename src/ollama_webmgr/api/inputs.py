"""Reading API requests: JSON bodies and fields, French 400 answers.

``bad_request`` stops the request with the JSON error shape of ``edge/errors.py``
(``{"error": {"code", "message"}}``) and a French message naming what is wrong.
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import abort, request

from ollama_webmgr.edge.errors import error_response
from ollama_webmgr.french.messages import ErrorView


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
