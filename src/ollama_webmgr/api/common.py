"""What the JSON routes share: query flags, model JSON (bodies: ``inputs``)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from flask import request

from ollama_webmgr.ollama.payloads import ModelTag, ShowInfo


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
