"""What the JSON routes share: body parsing, model JSON, local error statuses."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import Flask, Response, abort, request

from ollama_webmgr.errors import WebmgrError
from ollama_webmgr.manager.model_jobs import JobNotRetryable
from ollama_webmgr.manager.models import ModelNameTaken
from ollama_webmgr.ollama.payloads import ModelTag, ShowInfo
from ollama_webmgr.web.errors import error_response
from ollama_webmgr.web.messages import ErrorView

#: errors of the model manager that ``web/messages.py`` does not know
LOCAL_ERRORS: dict[type[WebmgrError], tuple[int, str]] = {
    JobNotRetryable: (
        409,
        "Seule une tâche en erreur, annulée ou interrompue peut être relancée.",
    ),
    ModelNameTaken: (
        409,
        "Un modèle porte déjà ce nom sur ce serveur : choisissez un autre nom "
        "ou supprimez d’abord l’autre modèle.",
    ),
}


def init_local_errors(app: Flask) -> None:
    for kind in LOCAL_ERRORS:
        app.register_error_handler(kind, _local_error)


def _local_error(exc: WebmgrError) -> Response:
    for kind, (status, message) in LOCAL_ERRORS.items():
        if isinstance(exc, kind):
            return error_response(ErrorView(status, exc.code, message))
    raise exc  # pragma: no cover - only registered for LOCAL_ERRORS


def json_body() -> dict[str, Any]:
    """The request's JSON object; 400 for anything else (malformed, a list...)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return data


def flag(name: str) -> bool:
    """A boolean query parameter (``?refresh=1``)."""
    return request.args.get(name, "").lower() in ("1", "true", "yes", "on")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def tag_json(tag: ModelTag) -> dict[str, Any]:
    """A model as ``/api/tags`` shows it (times in ISO 8601)."""
    data = asdict(tag)
    data["modified_at"] = iso(tag.modified_at)
    data["short_id"] = tag.short_id
    return data


def show_json(info: ShowInfo) -> dict[str, Any]:
    """``/api/show``'s answer (``model_info`` is a read-only mapping: copied)."""
    return {
        "details": asdict(info.details),
        "model_info": dict(info.model_info),
        "capabilities": list(info.capabilities),
        "license": info.license,
        "modelfile": info.modelfile,
        "parameters": info.parameters,
        "template": info.template,
        "system": info.system,
        "context_length": info.context_length,
        "modified_at": iso(info.modified_at),
    }
