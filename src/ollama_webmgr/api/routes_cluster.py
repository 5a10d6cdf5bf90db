"""The fleet API: ``/api/servers`` (list, add, change, remove) and a URL test."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ollama_webmgr.api.inputs import (
    audit,
    bad_request,
    json_body,
    optional_text,
    text_field,
)
from ollama_webmgr.cluster.hardware import InfoSource, optional_grpc_factory
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import AgentUnavailable
from ollama_webmgr.french.messages import describe_error
from ollama_webmgr.manager.fleet import Fleet
from ollama_webmgr.manager.status import ServerStatus, fleet_status
from ollama_webmgr.wiring import Services, get_services

bp = Blueprint("api_cluster", __name__)


#: a web request waits at most this long for a newly set agent's first answer
AGENT_FIRST_ANSWER_S = 2.0


def fleet_of(services: Services) -> Fleet:
    token = services.settings.agent_token

    def ask_agent(address: str) -> InfoSource:
        """A gRPC client, made only when an agent is set (gRPC loads lazily)."""
        factory = optional_grpc_factory(token=token, timeout=AGENT_FIRST_ANSWER_S)
        if factory is None:
            raise AgentUnavailable("the 'agent' extra is not installed")
        return factory(address)

    return Fleet(
        services.servers, services.db, services.settings.servers, ask_agent=ask_agent
    )


def server_json(fleet: Fleet, server: Server) -> dict[str, Any]:
    active = fleet.registry.active()
    return {
        "name": server.name,
        "url": server.url,
        "enabled": server.enabled,
        "weight": server.weight,
        "configured": fleet.is_configured(server),
        "agent": fleet.agent_of(server),
        "primary": bool(active) and active[0].name == server.name,
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
def list_servers() -> Response:
    fleet = fleet_of(get_services())
    servers = fleet.registry.all()
    body = [server_json(fleet, server) for server in servers]
    if request.args.get("status", "1") != "0":
        for entry, status in zip(
            body, fleet_status(servers, get_services().clients), strict=True
        ):
            entry["status"] = status_json(status)
    return jsonify(servers=body)


@bp.post("/api/servers")
def add_server() -> tuple[Response, int]:
    services = get_services()
    data = json_body()
    fleet = fleet_of(services)
    server = fleet.add(text_field(data, "name"), text_field(data, "url"))
    audit(services, "server_add", server.name, url=server.url)
    return jsonify(server_json(fleet, server)), 201


@bp.patch("/api/servers/<name>")
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
    fleet = fleet_of(services)
    server = fleet.update(name, new_name=new_name, enabled=enabled, weight=weight)
    audit(services, "server_update", name, changes=data)
    return jsonify(server_json(fleet, server))


@bp.put("/api/servers/<name>/agent")
def set_agent(name: str) -> Response:
    """``{"agent": "host:port"}`` gives the server a node agent; null removes it."""
    services = get_services()
    agent = json_body().get("agent")
    if agent is not None and not isinstance(agent, str):
        bad_request("Champ « agent » invalide : « hôte:port » ou null attendu.")
    fleet = fleet_of(services)
    outcome = fleet.set_agent(name, agent)
    audit(services, "server_agent", name, agent=agent)
    body = server_json(fleet, outcome.server)
    if outcome.report is not None:
        body["agent_answered"] = outcome.report.ok
        body["agent_error"] = outcome.report.error
    return jsonify(body)


@bp.delete("/api/servers/<name>")
def remove_server(name: str) -> Response:
    services = get_services()
    fleet_of(services).remove(name)
    audit(services, "server_remove", name)
    return jsonify(removed=name)


@bp.post("/api/servers/test")
def test_server() -> Response:
    url = text_field(json_body(), "url")
    check = fleet_of(get_services()).test(url)
    return jsonify(
        url=check.url,
        reachable=True,
        version=check.version,
        latency_ms=check.latency_ms,
    )
