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

from flask import Blueprint, Response, jsonify

from ollama_webmgr.api.inputs import json_body
from ollama_webmgr.api.openapi import (
    BAD,
    BOOL,
    OBJ,
    OK,
    STR,
    UNKNOWN,
    operation,
    path,
    shape,
)
from ollama_webmgr.api.params import fail, server_of
from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.gateway.status import fleet_status
from ollama_webmgr.usecases import gateway_settings as gs

bp = Blueprint("api_gateway", __name__, url_prefix="/api/gateway")


@bp.get("/config")
@operation("passerelle", "Réglages de la passerelle", answers=OK)
def get_config() -> Response:
    config = get_services().gateway.app.config
    return jsonify(
        config=gs.editable_values(config),
        api_keys_enabled=bool(config.api_key_hashes),
    )


@bp.put("/config")
@operation(
    "passerelle",
    "Modifier des réglages (appliqués sans redémarrage)",
    body={"$ref": "#/components/schemas/GatewayConfig"},
    answers={**OK, **BAD},
)
def put_config() -> Response:
    changes = json_body()
    if not changes:
        fail("Aucun réglage à modifier.")
    services = get_services()
    values = gs.change_settings(services, current_actor(), changes)
    return jsonify(
        config=values,
        api_keys_enabled=bool(services.gateway.app.config.api_key_hashes),
    )


@bp.get("/status")
@operation("passerelle", "État de chaque serveur vu par la passerelle", answers=OK)
def status() -> Response:
    return jsonify(
        servers=[asdict(s) for s in fleet_status(get_services().gateway.app)]
    )


@bp.post("/drain")
@operation(
    "passerelle",
    "Vider un serveur (plus de nouvelles requêtes) ou le remettre en service",
    body=shape(server=STR, draining=BOOL),
    answers={**OK, **BAD, **UNKNOWN},
)
def drain() -> Response:
    data = json_body()
    name, draining = data.get("server"), data.get("draining")
    if not isinstance(name, str) or not name:
        fail("« server » attendu : le nom d’un serveur.")
    if not isinstance(draining, bool):
        fail("« draining » attendu : true (vider) ou false (remettre en service).")
    services = get_services()
    server = server_of(services.servers, name)
    updated = gs.set_draining(services, current_actor(), server.name, draining)
    return jsonify(server=updated.name, draining=updated.draining)


@bp.get("/keys")
@operation("passerelle", "Clés d’API (sans leur valeur)", answers=OK)
def list_keys() -> Response:
    keys = gs.api_keys(get_services())
    return jsonify(enabled=bool(keys), keys=keys)


@bp.post("/keys")
@operation(
    "passerelle",
    "Créer une clé d’API (sa valeur n’est montrée qu’ici)",
    body=shape(label=STR),
    answers={201: ("Clé créée", OBJ), **BAD},
)
def create_key() -> tuple[Response, int]:
    label = json_body().get("label", "")
    if not isinstance(label, str) or not 1 <= len(label.strip()) <= gs.LABEL_MAX:
        fail(f"« label » attendu : un nom de 1 à {gs.LABEL_MAX} caractères.")
    created = gs.issue_api_key(get_services(), current_actor(), label)
    return jsonify(key=created.key, **gs.public_key(created.entry)), 201


@bp.delete("/keys/<key_id>")
@operation(
    "passerelle",
    "Supprimer une clé d’API",
    params=[path("key_id", "Identifiant de la clé")],
    answers={204: ("Supprimée", None), **UNKNOWN},
)
def delete_key(key_id: str) -> tuple[str, int]:
    gs.revoke_api_key(get_services(), current_actor(), key_id)
    return "", 204
