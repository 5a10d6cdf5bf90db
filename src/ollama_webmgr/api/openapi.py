"""The OpenAPI 3.1 description of the web app's JSON API, built from one table.

``ROUTES`` lists every operation: ``(method, path, tag, summary, parameters,
request body schema, {status: (description, schema)})``. A test checks that
every ``/api/...`` rule of the application is described here, so a new route
without its description fails the build. (The gateway on its own port speaks
Ollama's API, documented by Ollama, and is not described here.)
"""

from __future__ import annotations

from typing import Any

from ollama_webmgr import __version__

Schema = dict[str, Any]
Param = tuple[str, str, bool, Schema, str]  # name, in, required, schema, description

STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
OBJ: Schema = {"type": "object"}
ERROR = {"$ref": "#/components/schemas/Error"}
JOB = {"$ref": "#/components/schemas/JobRef"}


def _enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def _q(name: str, schema: Schema, text: str, required: bool = False) -> Param:
    return (name, "query", required, schema, text)


def _p(name: str, text: str) -> Param:
    return (name, "path", True, STR, text)


def _body(**properties: Schema) -> Schema:
    return {"type": "object", "properties": properties, "required": list(properties)}


SERVER_Q = _q("server", STR, "Nom du serveur (défaut : le principal).")
MODEL_BODY = _body(name=STR)
OK = {200: ("Réponse", OBJ)}
BAD = {400: ("Paramètre invalide", ERROR)}
UNKNOWN = {404: ("Introuvable", ERROR)}
STARTED = {202: ("Tâche lancée", JOB)}

ROUTES: list[tuple[str, str, str, str, list[Param], Schema | None, dict[int, Any]]] = [
    # -- models (the brief's contract) --------------------------------------------
    ("get", "/api/models", "modèles", "Modèles installés (GET /api/tags d’Ollama)",
     [SERVER_Q], None, OK),
    ("post", "/api/models/show", "modèles", "Détails d’un modèle (POST /api/show)",
     [SERVER_Q], MODEL_BODY, {**OK, **BAD, **UNKNOWN}),
    ("post", "/api/models/pull", "modèles", "Télécharger un modèle (tâche)",
     [SERVER_Q], MODEL_BODY, {**STARTED, **BAD}),
    ("delete", "/api/models/{name}", "modèles", "Supprimer un modèle (DELETE /api/delete)",
     [SERVER_Q, _p("name", "Nom du modèle, ex. qwen2.5:7b")], None, {**OK, **UNKNOWN}),
    ("post", "/api/models/copy", "modèles", "Copier un modèle (POST /api/copy)",
     [SERVER_Q], _body(source=STR, dest=STR), {**OK, **BAD, **UNKNOWN}),
    ("post", "/api/models/check_update", "modèles",
     "Vérifier si une mise à jour existe (tâche)", [SERVER_Q], MODEL_BODY,
     {**STARTED, **BAD}),
    ("get", "/api/running", "modèles", "Modèles chargés en mémoire (GET /api/ps)",
     [SERVER_Q], None, OK),
    ("post", "/api/eject", "modèles", "Éjecter un modèle (keep_alive: 0)",
     [SERVER_Q], MODEL_BODY, {**OK, **BAD}),
    ("post", "/api/eject/force", "modèles", "Éjection forcée (tâche vérifiant /api/ps)",
     [SERVER_Q], MODEL_BODY, {**STARTED, **BAD}),
    ("get", "/api/stream/progress", "tâches", "Progression d’une tâche (SSE : progress, "
     "status, done, error)", [_q("job_id", STR, "Identifiant de la tâche", True)], None,
     {200: ("Flux text/event-stream", STR), **UNKNOWN}),
    # -- remote library ------------------------------------------------------------
    ("get", "/api/remote/search", "bibliothèque", "Rechercher sur ollama.com",
     [_q("q", STR, "Texte recherché", True)], None, {**OK, **BAD}),
    ("get", "/api/remote/variants", "bibliothèque", "Variantes (tags) d’un modèle",
     [_q("model", STR, "Nom du modèle", True)], None, {**OK, **BAD, **UNKNOWN}),
    # -- history (/api/v1) -----------------------------------------------------------
    ("get", "/api/v1/servers/history", "historique", "Historique d’une mesure d’un serveur",
     [_q("server", STR, "Nom ou adresse du serveur", True),
      _q("metric", _enum("health", "latency", "load", "request_latency", "ttft"),
         "Mesure (défaut health)"),
      _q("period", _enum("1h", "24h", "7d", "30d", "365d"), "Fenêtre (défaut 24h)")],
     None, {**OK, **BAD, **UNKNOWN}),
    ("get", "/api/v1/servers/health", "historique",
     "État et disponibilité (%) sur 24 h, 7 j, 30 j", [], None, OK),
    ("get", "/api/v1/stats/requests", "historique", "Requêtes par période",
     [_q("period", _enum("hourly", "daily", "weekly"), "Période (défaut daily)"),
      _q("type", _enum("all", "generate", "chat", "embedding", "other"),
         "Type de requête (défaut all)"),
      _q("days", {"type": "integer", "minimum": 1, "maximum": 400},
         "Nombre de jours (défaut 1, 7 ou 28 selon la période)")],
     None, {**OK, **BAD}),
    ("get", "/api/v1/nodes/hardware", "historique",
     "Matériel des nœuds (agent) et VRAM utilisée",
     [_q("server", STR, "Nom ou adresse (défaut : tous)")], None, {**OK, **UNKNOWN}),
    # -- gateway administration --------------------------------------------------------
    ("get", "/api/gateway/config", "passerelle", "Réglages de la passerelle", [], None, OK),
    ("put", "/api/gateway/config", "passerelle",
     "Modifier des réglages (appliqués sans redémarrage)", [],
     {"$ref": "#/components/schemas/GatewayConfig"}, {**OK, **BAD}),
    ("get", "/api/gateway/status", "passerelle", "État de chaque serveur vu par la "
     "passerelle", [], None, OK),
    ("post", "/api/gateway/drain", "passerelle",
     "Vider un serveur (plus de nouvelles requêtes) ou le remettre en service", [],
     _body(server=STR, draining=BOOL), {**OK, **BAD, **UNKNOWN}),
    ("get", "/api/gateway/keys", "passerelle", "Clés d’API (sans leur valeur)", [], None,
     OK),
    ("post", "/api/gateway/keys", "passerelle",
     "Créer une clé d’API (sa valeur n’est montrée qu’ici)", [], _body(label=STR),
     {201: ("Clé créée", OBJ), **BAD}),
    ("delete", "/api/gateway/keys/{key_id}", "passerelle", "Supprimer une clé d’API",
     [_p("key_id", "Identifiant de la clé")], None,
     {204: ("Supprimée", None), **UNKNOWN}),
    # -- this description --------------------------------------------------------------
    ("get", "/api/openapi.json", "documentation", "Cette description OpenAPI", [], None,
     OK),
    ("get", "/api/docs", "documentation", "Documentation interactive (Swagger UI)", [],
     None, {200: ("Page HTML", STR)}),
]  # fmt: skip

_CONFIG_PROPERTIES: Schema = {
    "strategy": _enum("least_in_flight", "round_robin", "weighted", "latency"),
    "sticky": BOOL,
    **{
        name: {"type": "integer", "minimum": 0}
        for name in ("sticky_size", "default_limit", "queue_size")
    },
    **{
        name: {"type": "integer", "minimum": 1}
        for name in ("max_attempts", "failures_to_down", "successes_to_up")
    },
    **{
        name: {"type": "number", "exclusiveMinimum": 0}
        for name in (
            "queue_timeout",
            "connect_timeout",
            "read_timeout",
            "pull_timeout",
            "health_interval",
            "health_timeout",
            "backoff_max",
        )
    },
}


def _operation(
    tag: str,
    summary: str,
    params: list[Param],
    body: Schema | None,
    responses: dict[int, Any],
) -> Schema:
    operation: Schema = {"tags": [tag], "summary": summary, "responses": {}}
    if params:
        operation["parameters"] = [
            {"name": n, "in": where, "required": req, "schema": s, "description": d}
            for n, where, req, s, d in params
        ]
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    for status, (description, schema) in responses.items():
        answer: Schema = {"description": description}
        if schema is not None:
            answer["content"] = {"application/json": {"schema": schema}}
        operation["responses"][str(status)] = answer
    return operation


def openapi_document() -> Schema:
    paths: dict[str, Schema] = {}
    for method, path, tag, summary, params, body, responses in ROUTES:
        operation = _operation(tag, summary, params, body, responses)
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ollama WebMgr — API JSON",
            "version": __version__,
            "description": "API de l’application web. Les erreurs ont la forme "
            '`{"error": {"code", "message"}}` (message en français). Les écritures '
            "demandent `Content-Type: application/json`.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": _body(code=STR, message=STR),
                    },
                },
                "JobRef": {"type": "object", "properties": {"job_id": STR}},
                "GatewayConfig": {
                    "type": "object",
                    "properties": _CONFIG_PROPERTIES,
                    "additionalProperties": False,
                },
            }
        },
    }


def described_operations() -> set[tuple[str, str]]:
    """``(METHOD, path)`` pairs described, paths in OpenAPI form (``{name}``)."""
    return {(method.upper(), path) for method, path, *_ in ROUTES}
