"""The fleet API: ``/api/servers`` (list, add, change, remove) and a URL test."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ollama_webmgr.api.inputs import bad_request, json_body, optional_text, text_field
from ollama_webmgr.api.openapi import (
    BAD,
    BOOL,
    CONFLICT,
    ERROR,
    OBJ,
    OK,
    SERVER_NAME,
    STR,
    UNKNOWN,
    operation,
    query,
    shape,
)
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.errors import UnknownServer
from ollama_webmgr.french.messages import describe_error
from ollama_webmgr.usecases import fleet as uc
from ollama_webmgr.usecases.servers import primary_server
from ollama_webmgr.usecases.status import ServerStatus, fleet_status

bp = Blueprint("api_cluster", __name__)


def _is_primary(fleet: uc.Fleet, server: Server) -> bool:
    try:
        return primary_server(fleet.registry).name == server.name
    except UnknownServer:
        return False


def server_json(fleet: uc.Fleet, server: Server) -> dict[str, Any]:
    return {
        "name": server.name,
        "url": server.url,
        "enabled": server.enabled,
        "weight": server.weight,
        "configured": fleet.is_configured(server),
        "agent": fleet.agent_of(server),
        "primary": _is_primary(fleet, server),
    }


def status_json(status: ServerStatus) -> dict[str, Any]:
    data: dict[str, Any] = {
        "reachable": status.reachable,
        "latency_ms": status.latency_ms,
        "version": status.version,
        "models": len(status.models),
        "running": len(status.running),
    }
    if status.error is not None:
        view = describe_error(status.error)
        data["error"] = {"code": view.code, "message": view.message}
    return data


@bp.get("/api/servers")
@operation(
    "serveurs",
    "Serveurs de la flotte et leur état",
    params=[query("status", STR, "0 : sans interroger les serveurs")],
    answers=OK,
)
def list_servers() -> Response:
    fleet = uc.fleet_of(get_services())
    servers = fleet.registry.all()
    body = [server_json(fleet, server) for server in servers]
    if request.args.get("status", "1") != "0":
        for entry, status in zip(
            body, fleet_status(servers, get_services().clients), strict=True
        ):
            entry["status"] = status_json(status)
    return jsonify(servers=body)


@bp.post("/api/servers")
@operation(
    "serveurs",
    "Ajouter un serveur (doit répondre à /api/version)",
    body=shape(name=STR, url=STR),
    answers={201: ("Ajouté", OBJ), **BAD, **CONFLICT, 502: ("Injoignable", ERROR)},
)
def add_server() -> tuple[Response, int]:
    services = get_services()
    data = json_body()
    name, url = text_field(data, "name"), text_field(data, "url")
    server = uc.add_server(services, current_actor(), name, url)
    return jsonify(server_json(uc.fleet_of(services), server)), 201


@bp.patch("/api/servers/<name>")
@operation(
    "serveurs",
    "Renommer, activer/désactiver, poids",
    params=[SERVER_NAME],
    body=shape(
        name=STR,
        enabled=BOOL,
        weight={"type": "integer", "minimum": 0},
        required=(),
    ),
    answers={**OK, **BAD, **UNKNOWN, **CONFLICT},
)
def change_server(name: str) -> Response:
    services = get_services()
    data = json_body()
    new_name = optional_text(data, "name")
    enabled = data.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        bad_request("Champ « enabled » invalide : true ou false attendu.")
    weight = data.get("weight")
    if weight is not None and (
        isinstance(weight, bool) or not isinstance(weight, int) or weight < 0
    ):
        bad_request("Champ « weight » invalide : un entier positif ou nul est attendu.")
    server = uc.change_server(
        services,
        current_actor(),
        name,
        new_name=new_name,
        enabled=enabled,
        weight=weight,
    )
    return jsonify(server_json(uc.fleet_of(services), server))


@bp.put("/api/servers/<name>/agent")
@operation(
    "serveurs",
    "Agent matériel du serveur (hôte:port ; null pour le retirer)",
    params=[SERVER_NAME],
    body=shape(agent={"type": ["string", "null"]}),
    answers={**OK, **BAD, **UNKNOWN},
)
def set_agent(name: str) -> Response:
    """``{"agent": "host:port"}`` gives the server a node agent; null removes it."""
    services = get_services()
    agent = json_body().get("agent")
    if agent is not None and not isinstance(agent, str):
        bad_request("Champ « agent » invalide : « hôte:port » ou null attendu.")
    outcome = uc.set_agent(services, current_actor(), name, agent)
    body = server_json(uc.fleet_of(services), outcome.server)
    if outcome.report is not None:
        body["agent_answered"] = outcome.report.ok
        body["agent_error"] = outcome.report.error
    return jsonify(body)


@bp.delete("/api/servers/<name>")
@operation(
    "serveurs",
    "Retirer un serveur ajouté dans l’interface",
    params=[SERVER_NAME],
    answers={**OK, **UNKNOWN, **CONFLICT},
)
def remove_server(name: str) -> Response:
    uc.remove_server(get_services(), current_actor(), name)
    return jsonify(removed=name)


@bp.post("/api/servers/test")
@operation(
    "serveurs",
    "Tester une adresse (GET /api/version)",
    body=shape(url=STR),
    answers={**OK, **BAD, 502: ("Injoignable", ERROR)},
)
def test_server() -> Response:
    url = text_field(json_body(), "url")
    check = uc.check_url(get_services(), url)
    return jsonify(
        url=check.url,
        reachable=True,
        version=check.version,
        latency_ms=check.latency_ms,
    )
