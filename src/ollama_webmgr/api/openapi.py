"""The OpenAPI 3.1 description of the web app's JSON API, built from the routes.

Each ``/api/...`` view declares its operation next to its code (``@operation``:
tag, French summary, query parameters, body and answers); ``openapi_document``
walks the application's URL map and hands each rule and its declaration to
``apispec``, so paths, methods and path parameters come from Flask itself and
cannot drift from the routes. A view without a declaration stops the build of
the document (and a test). The gateway on its own port speaks Ollama's API,
documented by Ollama, and is not described here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from apispec import APISpec, BasePlugin
from flask import Flask
from werkzeug.routing import Rule

from ollama_webmgr import __version__
from ollama_webmgr.errors import SettingReason
from ollama_webmgr.gateway.balancer import STRATEGIES
from ollama_webmgr.usecases.gateway_settings import SETTING_KINDS

Schema = dict[str, Any]
#: an answer: (French description, JSON schema or None for an empty body)
Answer = tuple[str, Schema | None]
View = TypeVar("View", bound=Callable[..., Any])

STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
OBJ: Schema = {"type": "object"}
ERROR: Schema = {"$ref": "#/components/schemas/Error"}
JOB: Schema = {"$ref": "#/components/schemas/JobRef"}
SERVERS: Schema = {
    "oneOf": [{"type": "array", "items": STR}, {"type": "string", "enum": ["all"]}],
    "description": "Plusieurs serveurs, ou « all »",
}
OK: dict[int, Answer] = {200: ("Réponse", OBJ)}
BAD: dict[int, Answer] = {400: ("Paramètre invalide", ERROR)}
UNKNOWN: dict[int, Answer] = {404: ("Introuvable", ERROR)}
CONFLICT: dict[int, Answer] = {409: ("Conflit", ERROR)}
STARTED: dict[int, Answer] = {202: ("Tâche lancée", JOB)}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def shape(required: tuple[str, ...] | None = None, **properties: Schema) -> Schema:
    """An object schema; every property is required unless ``required`` says."""
    names = list(properties) if required is None else list(required)
    return {"type": "object", "properties": properties, "required": names}


@dataclass(frozen=True)
class Param:
    name: str
    where: str  # "query" or "path"
    schema: Schema
    text: str
    required: bool = False

    def as_dict(self) -> Schema:
        return {
            "name": self.name,
            "in": self.where,
            "required": self.required,
            "schema": self.schema,
            "description": self.text,
        }


def query(name: str, schema: Schema, text: str, required: bool = False) -> Param:
    return Param(name, "query", schema, text, required)


def path(name: str, text: str) -> Param:
    return Param(name, "path", STR, text, True)


SERVER_Q = query("server", STR, "Nom du serveur (défaut : le principal).")
SERVER_NAME = path("name", "Nom du serveur")
REFRESH = query("refresh", STR, "1 : sans le cache")
JOB_ID = path("job_id", "Identifiant de la tâche")


@dataclass(frozen=True)
class Operation:
    tag: str
    summary: str
    params: tuple[Param, ...] = ()
    body: Schema | None = None
    answers: Mapping[int, Answer] = field(default_factory=dict)

    def as_dict(self) -> Schema:
        found: Schema = {"tags": [self.tag], "summary": self.summary}
        if self.params:
            found["parameters"] = [param.as_dict() for param in self.params]
        if self.body is not None:
            found["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": self.body}},
            }
        found["responses"] = {
            status: _answer(text, schema)
            for status, (text, schema) in self.answers.items()
        }
        return found


_DECLARED = "__openapi_operation__"


def operation(
    tag: str,
    summary: str,
    *,
    params: Sequence[Param] = (),
    body: Schema | None = None,
    answers: Mapping[int, Answer],
) -> Callable[[View], View]:
    """Declare what a view does, for the description (put under ``@bp.get``...)."""
    declared = Operation(tag, summary, tuple(params), body, dict(answers))

    def declare(view: View) -> View:
        setattr(view, _DECLARED, declared)
        return view

    return declare


class UndescribedRoute(LookupError):
    """An ``/api/...`` view without ``@operation``."""


class FlaskRules(BasePlugin):
    """apispec's way in for a framework: a Flask URL rule gives the path."""

    def path_helper(
        self,
        path: str | None = None,
        operations: dict[Any, Any] | None = None,
        parameters: list[dict[Any, Any]] | None = None,
        *,
        rule: Rule | None = None,
        **kwargs: Any,
    ) -> str | None:
        return None if rule is None else openapi_path(rule.rule)


def openapi_path(rule: str) -> str:
    """``/api/models/<path:name>`` → ``/api/models/{name}``.

    >>> openapi_path("/api/models/<path:name>")
    '/api/models/{name}'
    """
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def api_rules(app: Flask) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/")]


def methods_of(rule: Rule) -> list[str]:
    return sorted(m for m in rule.methods or () if m not in ("HEAD", "OPTIONS"))


def openapi_document(app: Flask) -> Schema:
    spec = APISpec(
        title="Ollama WebMgr — API JSON",
        version=__version__,
        openapi_version="3.1.0",
        plugins=[FlaskRules()],
        info={
            "description": "API de l’application web. Les erreurs ont la forme "
            '`{"error": {"code", "message"}}` (message en français). Les écritures '
            "demandent `Content-Type: application/json`."
        },
    )
    for name, schema in _COMPONENTS.items():
        spec.components.schema(name, schema)
    for rule in api_rules(app):
        declared = _declared(app, rule)
        spec.path(
            rule=rule,
            operations={
                method.lower(): declared.as_dict() for method in methods_of(rule)
            },
        )
    return spec.to_dict()


def described_operations(app: Flask) -> set[tuple[str, str]]:
    """``(METHOD, path)`` pairs of the description, paths in OpenAPI form."""
    paths: dict[str, Schema] = openapi_document(app)["paths"]
    return {(method.upper(), p) for p, item in paths.items() for method in item}


def _declared(app: Flask, rule: Rule) -> Operation:
    declared = getattr(app.view_functions[rule.endpoint], _DECLARED, None)
    if not isinstance(declared, Operation):
        raise UndescribedRoute(f"{rule.rule} has no @operation")
    named = {p.name for p in declared.params if p.where == "path"}
    if named != set(rule.arguments):
        raise UndescribedRoute(f"{rule.rule}: path parameters {sorted(named)}")
    return declared


def _answer(text: str, schema: Schema | None) -> Schema:
    found: Schema = {"description": text}
    if schema is not None:
        found["content"] = {"application/json": {"schema": schema}}
    return found


_SETTING_SCHEMAS: dict[SettingReason, Schema] = {
    "strategy": enum(*STRATEGIES),
    "boolean": BOOL,
    "origins": {
        "type": "array",
        "items": STR,
        "description": "Origines CORS autorisées en plus de celles d’Ollama"
        " (schéma://hôte, une * au plus ; * seule : toutes)",
    },
    "integer_min_0": {"type": "integer", "minimum": 0},
    "integer_min_1": {"type": "integer", "minimum": 1},
    "positive_seconds": {"type": "number", "exclusiveMinimum": 0},
}
_COMPONENTS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "properties": {"error": shape(code=STR, message=STR)},
    },
    "JobRef": {
        "type": "object",
        "properties": {"job_id": STR, "job_ids": {"type": "array", "items": STR}},
    },
    "GatewayConfig": {
        "type": "object",
        # what the settings accept is what the use case checks (SETTING_KINDS)
        "properties": {
            name: _SETTING_SCHEMAS[kind] for name, kind in SETTING_KINDS.items()
        },
        "additionalProperties": False,
    },
    "DownloadConfig": {
        "type": "object",
        "properties": {
            "fleet_rate": {
                "type": ["number", "null"],
                "exclusiveMinimum": 0,
                "description": "Débit maximal pris au registre par tous les"
                " téléchargements ensemble (octets/s ; null : illimité)",
            },
            "node_rate": {
                "type": ["number", "null"],
                "exclusiveMinimum": 0,
                "description": "Débit maximal envoyé par le cache à chaque serveur"
                " (octets/s ; null : illimité)",
            },
            "pull_stall_timeout": _SETTING_SCHEMAS["positive_seconds"],
            "pull_max_restarts": _SETTING_SCHEMAS["integer_min_0"],
        },
        "additionalProperties": False,
    },
}
