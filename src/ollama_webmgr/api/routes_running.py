"""``GET /api/running``, ``POST /api/eject`` (soft) and ``POST /api/eject/force``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ollama_webmgr.api.inputs import (
    audit,
    json_body,
    optional_text,
    server_named,
    servers_chosen,
    text_field,
)
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.manager.probe import Outcome
from ollama_webmgr.manager.running import running_on, soft_eject
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.payloads import RunningModel
from ollama_webmgr.web.labels import expiry, gpu_share
from ollama_webmgr.web.messages import describe_error
from ollama_webmgr.wiring import get_services

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
def running() -> Response:
    services = get_services()
    outcomes = running_on(
        servers_chosen(services, request.args.get("server")), services.clients
    )
    models = [
        running_json(outcome.server, model)
        for outcome in outcomes
        for model in outcome.value or []
    ]
    return jsonify(models=models, errors=outcome_errors(outcomes))


def _eject_target(data: dict[str, Any]) -> tuple[str, Server]:
    name = ModelName.parse(text_field(data, "name")).display
    server = server_named(get_services(), optional_text(data, "server"))
    return name, server


@bp.post("/api/eject")
def eject() -> Response:
    services = get_services()
    name, server = _eject_target(json_body())
    gone = soft_eject(services.clients.get(server), name)
    audit(services, "eject", name, server=server.name, ejected=gone)
    return jsonify(name=name, server=server.name, ejected=gone)


@bp.post("/api/eject/force")
def eject_force() -> tuple[Response, int]:
    services = get_services()
    name, server = _eject_target(json_body())
    job = services.runner.submit(
        "eject_force",
        {"server_url": server.url, "model": name},
        dedupe_key=f"eject:{server.url}:{name}",
    )
    audit(services, "eject_force", name, server=server.name, job_id=job.id)
    return jsonify(job_id=job.id, name=name, server=server.name), 202
