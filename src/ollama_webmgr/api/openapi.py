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


def _body(required: tuple[str, ...] | None = None, **properties: Schema) -> Schema:
    """An object schema; every property is required unless ``required`` says."""
    names = list(properties) if required is None else list(required)
    return {"type": "object", "properties": properties, "required": names}


SERVER_Q = _q("server", STR, "Nom du serveur (défaut : le principal).")
REFRESH = _q("refresh", STR, "1 : sans le cache")
JOB_ID = _p("job_id", "Identifiant de la tâche")
SERVERS: Schema = {
    "oneOf": [{"type": "array", "items": STR}, {"type": "string", "enum": ["all"]}],
    "description": "Plusieurs serveurs, ou « all »",
}
OK = {200: ("Réponse", OBJ)}
BAD = {400: ("Paramètre invalide", ERROR)}
UNKNOWN = {404: ("Introuvable", ERROR)}
STARTED = {202: ("Tâche lancée", JOB)}

ROUTES: list[tuple[str, str, str, str, list[Param], Schema | None, dict[int, Any]]] = [
    # -- models and jobs (the brief's contract) --------------------------------------
    ("get", "/api/models", "modèles", "Modèles installés (GET /api/tags d’Ollama)",
     [_q("server", STR, "Nom du serveur, ou « all » pour toute la flotte (écarts "
         "de version signalés)"), REFRESH], None, OK),
    ("post", "/api/models/show", "modèles", "Détails d’un modèle (POST /api/show)",
     [], _body(name=STR, server=STR, required=("name",)), {**OK, **BAD, **UNKNOWN}),
    ("post", "/api/models/pull", "modèles", "Télécharger un modèle (une tâche par "
     "serveur)", [], _body(name=STR, server=STR, servers=SERVERS, required=("name",)),
     {**STARTED, **BAD}),
    ("delete", "/api/models/{name}", "modèles", "Supprimer un modèle (DELETE /api/delete) ; "
     "chargé en mémoire, il est d’abord déchargé (« unloaded » : null s’il ne l’était "
     "pas, sinon s’il a quitté la mémoire)",
     [SERVER_Q, _p("name", "Nom du modèle, ex. qwen2.5:7b")], None, {**OK, **UNKNOWN}),
    ("post", "/api/models/copy", "modèles", "Copier un modèle (POST /api/copy) ; un "
     "nom déjà pris est refusé (409) sauf avec « overwrite »",
     [], _body(source=STR, dest=STR, server=STR, overwrite=BOOL,
               required=("source", "dest")),
     {**OK, **BAD, **UNKNOWN, 409: ("Nom déjà pris", ERROR)}),
    ("post", "/api/models/check_update", "modèles",
     "Vérifier si une mise à jour existe (tâche)", [],
     _body(name=STR, server=STR, servers=SERVERS, required=("name",)),
     {**STARTED, **BAD}),
    ("post", "/api/models/update_all", "modèles",
     "Mettre à jour les modèles signalés par les vérifications (tâches)", [],
     _body(server=STR, servers=SERVERS, required=()), {**STARTED, **BAD}),
    ("get", "/api/jobs", "tâches", "Tâches récentes",
     [_q("active", STR, "1 : seulement celles en cours")], None, OK),
    ("get", "/api/jobs/{job_id}", "tâches", "Une tâche", [JOB_ID], None,
     {**OK, **UNKNOWN}),
    ("delete", "/api/jobs/{job_id}", "tâches", "Annuler une tâche", [JOB_ID], None,
     {**OK, **UNKNOWN}),
    ("post", "/api/jobs/{job_id}/retry", "tâches",
     "Relancer une tâche échouée, annulée ou interrompue", [JOB_ID], None,
     {**STARTED, **BAD, **UNKNOWN}),
    ("get", "/api/stream/progress", "tâches", "Progression d’une tâche (SSE : progress, "
     "status, done, error ; reprise par Last-Event-ID ; chaque événement porte "
     "aussi status_text et state_text en français, un error son message en "
     "français et le texte d’Ollama dans detail)",
     [_q("job_id", STR, "Identifiant de la tâche", True),
      _q("last_event_id", STR, "Dernier événement reçu (comme l’en-tête Last-Event-ID)")],
     None, {200: ("Flux text/event-stream", STR), **BAD, **UNKNOWN}),
    # -- running models and eject ------------------------------------------------------
    ("get", "/api/running", "modèles", "Modèles chargés en mémoire (GET /api/ps)",
     [_q("server", STR, "Nom du serveur (défaut : tous)")], None, OK),
    ("post", "/api/eject", "modèles", "Éjecter un modèle (keep_alive: 0)",
     [], _body(name=STR, server=STR, required=("name",)), {**OK, **BAD, **UNKNOWN}),
    ("post", "/api/eject/force", "modèles", "Éjection forcée (tâche vérifiant /api/ps)",
     [], _body(name=STR, server=STR, required=("name",)), {**STARTED, **BAD, **UNKNOWN}),
    # -- servers -------------------------------------------------------------------------
    ("get", "/api/servers", "serveurs", "Serveurs de la flotte et leur état",
     [_q("status", STR, "0 : sans interroger les serveurs")], None, OK),
    ("post", "/api/servers", "serveurs", "Ajouter un serveur (doit répondre à "
     "/api/version)", [], _body(name=STR, url=STR),
     {201: ("Ajouté", OBJ), **BAD, 409: ("Conflit", ERROR), 502: ("Injoignable", ERROR)}),
    ("patch", "/api/servers/{name}", "serveurs", "Renommer, activer/désactiver, poids",
     [_p("name", "Nom du serveur")],
     _body(name=STR, enabled=BOOL, weight={"type": "integer", "minimum": 0},
           required=()), {**OK, **BAD, **UNKNOWN, 409: ("Conflit", ERROR)}),
    ("put", "/api/servers/{name}/agent", "serveurs",
     "Agent matériel du serveur (hôte:port ; null pour le retirer)",
     [_p("name", "Nom du serveur")],
     _body(agent={"type": ["string", "null"]}), {**OK, **BAD, **UNKNOWN}),
    ("delete", "/api/servers/{name}", "serveurs", "Retirer un serveur ajouté dans l’interface",
     [_p("name", "Nom du serveur")], None, {**OK, **UNKNOWN, 409: ("Conflit", ERROR)}),
    ("post", "/api/servers/test", "serveurs", "Tester une adresse (GET /api/version)",
     [], _body(url=STR), {**OK, **BAD, 502: ("Injoignable", ERROR)}),
    # -- remote library ------------------------------------------------------------
    ("get", "/api/remote/search", "bibliothèque", "Rechercher sur ollama.com",
     [_q("q", STR, "Texte recherché"), _q("c", STR, "Capacité (tools, vision…)"),
      _q("page", {"type": "integer", "minimum": 1}, "Page")], None, {**OK, **BAD}),
    ("get", "/api/remote/variants", "bibliothèque", "Variantes (tags) d’un modèle, "
     "avec leur état sur le serveur",
     [_q("model", STR, "Nom du modèle", True), SERVER_Q], None,
     {**OK, **BAD, **UNKNOWN}),
    # -- history (/api/v1) -----------------------------------------------------------
    ("get", "/api/v1/servers/history", "historique", "Historique d’une mesure d’un serveur",
     [_q("server", STR, "Nom ou adresse du serveur", True),
      _q("metric", _enum("health", "latency", "load", "request_latency", "ttft",
                         "cpu_percent", "ram_percent", "gpu_util", "vram_used",
                         "disk_free"),
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
    "origins": {
        "type": "array",
        "items": STR,
        "description": "Origines CORS autorisées en plus de celles d’Ollama"
        " (schéma://hôte, une * au plus ; * seule : toutes)",
    },
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
                "JobRef": {
                    "type": "object",
                    "properties": {
                        "job_id": STR,
                        "job_ids": {"type": "array", "items": STR},
                    },
                },
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
