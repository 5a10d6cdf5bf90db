"""``/api/gateway/...``: the gateway's settings, drain switches and API keys.

Changes apply to the running gateway at once (same ``GatewayConfig`` and
``ServerRegistry`` objects), are stored in the ``config`` table, and are written
to the audit trail.

* ``GET /api/gateway/config`` → ``{"config": {...}, "api_keys_enabled": bool}``
* ``PUT /api/gateway/config`` with some fields → the new config (400 on a bad one)
* ``GET /api/gateway/status`` → what the gateway sees of each server
* ``POST /api/gateway/drain`` ``{"server": name, "draining": bool}``
* ``GET /api/gateway/keys``, ``POST /api/gateway/keys`` ``{"label": ...}`` (the
  key is in this answer only), ``DELETE /api/gateway/keys/<id>``
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, jsonify

from ollama_webmgr.api.inputs import json_body
from ollama_webmgr.api.params import fail, server_of
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.status import fleet_status
from ollama_webmgr.manager import gateway_settings as gs
from ollama_webmgr.store.records import record_audit
from ollama_webmgr.web.auth import current_actor
from ollama_webmgr.wiring import get_services

bp = Blueprint("api_gateway", __name__, url_prefix="/api/gateway")


@bp.get("/config")
def get_config() -> Response:
    config = get_services().gateway.app.config
    return jsonify(
        config=gs.editable_values(config),
        api_keys_enabled=bool(config.api_key_hashes),
    )


@bp.put("/config")
def put_config() -> Response:
    changes = json_body()
    if not changes:
        fail("Aucun réglage à modifier.")
    for name, value in changes.items():
        _check_setting(name, value)
    services = get_services()
    values = gs.save_gateway_config(services.db, services.gateway.app.config, changes)
    record_audit(
        services.db, current_actor().name, "gateway.config", "gateway", changes
    )
    return jsonify(
        config=values,
        api_keys_enabled=bool(services.gateway.app.config.api_key_hashes),
    )


def _check_setting(name: str, value: Any) -> None:
    problem = setting_problem(name, value)
    if problem:
        fail(problem)


def setting_problem(name: str, value: Any) -> str | None:
    """What is wrong with one gateway setting, in French (None: nothing)."""
    if name not in gs.EDITABLE:
        return f"Réglage inconnu : « {name} ». Réglages possibles : {', '.join(gs.EDITABLE)}."
    expected = setting_expectation(name, value)
    return f"Valeur invalide pour « {name} » : {expected}." if expected else None


def setting_expectation(name: str, value: Any) -> str | None:
    """What a known setting expects, in French, when ``value`` does not fit it."""
    try:
        GatewayConfig().update(**{name: value})
    except ValueError as exc:
        return _expected(str(exc))
    return None


def _expected(english: str) -> str:
    if english.startswith("strategy"):
        return "least_in_flight, round_robin, weighted ou latency attendu"
    if english.startswith("sticky"):
        return "true ou false attendu"
    if english.startswith("origins"):
        return "des origines schéma://hôte séparées par des virgules (une * au plus) attendues"
    if ">= 1" in english:
        return "un entier supérieur ou égal à 1 attendu"
    if ">= 0" in english:
        return "un entier positif ou nul attendu"
    return "un nombre de secondes positif attendu"


@bp.get("/status")
def status() -> Response:
    return jsonify(
        servers=[asdict(s) for s in fleet_status(get_services().gateway.app)]
    )


@bp.post("/drain")
def drain() -> Response:
    data = json_body()
    name, draining = data.get("server"), data.get("draining")
    if not isinstance(name, str) or not name:
        fail("« server » attendu : le nom d’un serveur.")
    if not isinstance(draining, bool):
        fail("« draining » attendu : true (vider) ou false (remettre en service).")
    services = get_services()
    server = server_of(services.servers, name)
    updated = services.servers.set_draining(server.name, draining)
    gs.save_draining(services.db, services.servers)
    record_audit(
        services.db,
        current_actor().name,
        "gateway.drain",
        server.name,
        {"draining": draining},
    )
    return jsonify(server=updated.name, draining=updated.draining)


@bp.get("/keys")
def list_keys() -> Response:
    keys = gs.list_api_keys(get_services().db)
    return jsonify(enabled=bool(keys), keys=[gs.public_key(k) for k in keys])


@bp.post("/keys")
def create_key() -> tuple[Response, int]:
    label = json_body().get("label", "")
    if not isinstance(label, str) or not 1 <= len(label.strip()) <= gs.LABEL_MAX:
        fail(f"« label » attendu : un nom de 1 à {gs.LABEL_MAX} caractères.")
    services = get_services()
    created = gs.create_api_key(services.db, services.gateway.app.config, label.strip())
    record_audit(
        services.db, current_actor().name, "gateway.key.create", created.entry["id"]
    )
    return jsonify(key=created.key, **gs.public_key(created.entry)), 201


@bp.delete("/keys/<key_id>")
def delete_key(key_id: str) -> tuple[str, int]:
    services = get_services()
    if not gs.delete_api_key(services.db, services.gateway.app.config, key_id):
        fail(f"Clé inconnue : « {key_id} ».", status=404, code="unknown_key")
    record_audit(services.db, current_actor().name, "gateway.key.delete", key_id)
    return "", 204
