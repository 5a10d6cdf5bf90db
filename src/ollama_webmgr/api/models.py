"""``/api/models...``: the brief's JSON facade over Ollama's model endpoints.

Thin routes: parse, one service call, JSON. Errors go through the JSON edge
(``{"error": {"code", "message"}}``, French message).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ollama_webmgr.api.common import flag, iso, show_json, tag_json
from ollama_webmgr.api.inputs import json_body
from ollama_webmgr.api.openapi import (
    BAD,
    BOOL,
    ERROR,
    OK,
    REFRESH,
    SERVER_Q,
    SERVERS,
    STARTED,
    STR,
    UNKNOWN,
    operation,
    path,
    query,
    shape,
)
from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.usecases import model_jobs, models
from ollama_webmgr.usecases.servers import ALL_SERVERS

bp = Blueprint("api_models", __name__, url_prefix="/api/models")


def _server_arg(body: dict[str, Any]) -> Any:
    """``servers`` (a list or "all") wins over ``server``; None: the primary."""
    return body.get("servers", body.get("server"))


def _jobs_answer(jobs: list[Job]) -> Response:
    body: dict[str, Any] = {"job_id": jobs[0].id, "job_ids": [j.id for j in jobs]}
    response = jsonify(body)
    response.status_code = 202
    return response


@bp.get("")
@operation(
    "modèles",
    "Modèles installés (GET /api/tags d’Ollama)",
    params=[
        query(
            "server",
            STR,
            "Nom du serveur, ou « all » pour toute la flotte (écarts de version"
            " signalés)",
        ),
        REFRESH,
    ],
    answers=OK,
)
def list_models() -> Response:
    services = get_services()
    server = request.args.get("server")
    if server == ALL_SERVERS:
        return jsonify(_fleet_json(models.list_all(services, refresh=flag("refresh"))))
    listing = models.list_models(services, server, refresh=flag("refresh"))
    return jsonify(
        server={"name": listing.server.name, "url": listing.server.url},
        cached=listing.cached,
        models=[tag_json(tag) for tag in listing.models],
    )


def _fleet_json(fleet: models.FleetModels) -> dict[str, Any]:
    return {
        "servers": [{"name": s.name, "url": s.url} for s in fleet.servers],
        "models": [
            {
                "name": model.name,
                "drift": model.drift,
                "size": model.size,
                "servers": {
                    server: {
                        "digest": tag.digest,
                        "size": tag.size,
                        "modified_at": iso(tag.modified_at),
                    }
                    for server, tag in model.copies.items()
                },
            }
            for model in fleet.models
        ],
        "errors": {
            name: {"code": exc.code, "message": exc.message}
            for name, exc in fleet.failures.items()
        },
    }


@bp.post("/show")
@operation(
    "modèles",
    "Détails d’un modèle (POST /api/show)",
    body=shape(name=STR, server=STR, required=("name",)),
    answers={**OK, **BAD, **UNKNOWN},
)
def show() -> Response:
    body = json_body()
    info = models.show_model(get_services(), body.get("server"), body.get("name", ""))
    return jsonify(show_json(info))


@bp.post("/pull")
@operation(
    "modèles",
    "Télécharger un modèle (une tâche par serveur)",
    body=shape(name=STR, server=STR, servers=SERVERS, required=("name",)),
    answers={**STARTED, **BAD},
)
def pull() -> Response:
    body = json_body()
    jobs = model_jobs.submit_pull(
        get_services(), current_actor(), _server_arg(body), body.get("name")
    )
    return _jobs_answer(jobs)


@bp.delete("/<path:name>")
@operation(
    "modèles",
    "Supprimer un modèle (DELETE /api/delete) ; chargé en mémoire, il est d’abord"
    " déchargé (« unloaded » : null s’il ne l’était pas, sinon s’il a quitté la"
    " mémoire)",
    params=[SERVER_Q, path("name", "Nom du modèle, ex. qwen2.5:7b")],
    answers={**OK, **UNKNOWN},
)
def delete(name: str) -> Response:
    """``unloaded``: null when it was not loaded, else whether it left memory."""
    deleted = models.delete_model(
        get_services(), current_actor(), request.args.get("server"), name
    )
    return jsonify(
        deleted=deleted.model, server=deleted.server.name, unloaded=deleted.unloaded
    )


@bp.post("/copy")
@operation(
    "modèles",
    "Copier un modèle (POST /api/copy) ; un nom déjà pris est refusé (409) sauf avec"
    " « overwrite »",
    body=shape(
        source=STR, dest=STR, server=STR, overwrite=BOOL, required=("source", "dest")
    ),
    answers={**OK, **BAD, **UNKNOWN, 409: ("Nom déjà pris", ERROR)},
)
def copy() -> Response:
    body = json_body()
    server = models.copy_model(
        get_services(),
        current_actor(),
        body.get("server"),
        body.get("source"),
        body.get("dest"),
        overwrite=body.get("overwrite") is True,
    )
    return jsonify(
        source=models.valid_name(body.get("source")),
        dest=models.valid_name(body.get("dest")),
        server=server.name,
    )


@bp.post("/check_update")
@operation(
    "modèles",
    "Vérifier si une mise à jour existe (tâche)",
    body=shape(name=STR, server=STR, servers=SERVERS, required=("name",)),
    answers={**STARTED, **BAD},
)
def check_update() -> Response:
    body = json_body()
    jobs = model_jobs.submit_check(get_services(), _server_arg(body), body.get("name"))
    return _jobs_answer(jobs)


@bp.post("/update_all")
@operation(
    "modèles",
    "Mettre à jour les modèles signalés par les vérifications (tâches)",
    body=shape(server=STR, servers=SERVERS, required=()),
    answers={**STARTED, **BAD},
)
def update_all() -> Response:
    """Pull every model the last checks flagged, on each server that has it."""
    body = json_body()
    jobs = model_jobs.submit_updates(
        get_services(), current_actor(), _server_arg(body) or ALL_SERVERS
    )
    return jsonify(job_ids=[j.id for j in jobs])
