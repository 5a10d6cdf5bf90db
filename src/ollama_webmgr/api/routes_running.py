"""``GET /api/running``, ``POST /api/eject`` (soft) and ``POST /api/eject/force``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ollama_webmgr.api.inputs import json_body, optional_text, text_field
from ollama_webmgr.api.openapi import (
    BAD,
    OK,
    STARTED,
    STR,
    UNKNOWN,
    operation,
    query,
    shape,
)
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.french.labels import expiry, gpu_share
from ollama_webmgr.french.messages import describe_error
from ollama_webmgr.ollama.payloads import RunningModel
from ollama_webmgr.usecases import running as uc
from ollama_webmgr.usecases.probe import Outcome
from ollama_webmgr.usecases.servers import chosen_servers

bp = Blueprint("api_running", __name__)


def running_json(server: Server, model: RunningModel) -> dict[str, Any]:
    details = model.details
    return {
        "name": model.name,
        "model": model.model,
        "server": server.name,
        "size": model.size,
        "size_vram": model.size_vram,
        "gpu_share": gpu_share(model.size, model.size_vram),
        "digest": model.digest,
        "expires_at": model.expires_at.isoformat() if model.expires_at else None,
        "expires": expiry(model.expires_at),
        "context_length": model.context_length,
        "details": {
            "family": details.family,
            "parameter_size": details.parameter_size,
            "quantization_level": details.quantization_level,
        },
    }


def outcome_errors(outcomes: list[Outcome[Any]]) -> list[dict[str, str]]:
    """The servers that did not answer, with a French reason."""
    errors = []
    for outcome in outcomes:
        if outcome.error is not None:
            view = describe_error(outcome.error)
            errors.append(
                {
                    "server": outcome.server.name,
                    "code": view.code,
                    "message": view.message,
                }
            )
    return errors


@bp.get("/api/running")
@operation(
    "modèles",
    "Modèles chargés en mémoire (GET /api/ps)",
    params=[
        query(
            "server",
            STR,
            "Nom du serveur, ou « all » pour tous les serveurs actifs (défaut :"
            " le principal)",
        )
    ],
    answers=OK,
)
def running() -> Response:
    services = get_services()
    servers = chosen_servers(services.servers, request.args.get("server"))
    outcomes = uc.loaded_models(services, servers)
    models = [
        running_json(outcome.server, model)
        for outcome in outcomes
        for model in outcome.value or []
    ]
    return jsonify(models=models, errors=outcome_errors(outcomes))


def _eject_target(data: dict[str, Any]) -> tuple[str | None, str]:
    """(server or None for the primary, model name), as the body gives them."""
    name = text_field(data, "name")
    return optional_text(data, "server"), name


@bp.post("/api/eject")
@operation(
    "modèles",
    "Éjecter un modèle (keep_alive: 0)",
    body=shape(name=STR, server=STR, required=("name",)),
    answers={**OK, **BAD, **UNKNOWN},
)
def eject() -> Response:
    server, name = _eject_target(json_body())
    done = uc.eject(get_services(), current_actor(), server, name)
    return jsonify(name=done.model, server=done.server.name, ejected=done.gone)


@bp.post("/api/eject/force")
@operation(
    "modèles",
    "Éjection forcée (tâche vérifiant /api/ps)",
    body=shape(name=STR, server=STR, required=("name",)),
    answers={**STARTED, **BAD, **UNKNOWN},
)
def eject_force() -> tuple[Response, int]:
    server, name = _eject_target(json_body())
    started = uc.force_eject(get_services(), current_actor(), server, name)
    body = jsonify(
        job_id=started.job.id, name=started.model, server=started.server.name
    )
    return body, 202
