"""``GET /api/remote/search`` and ``GET /api/remote/variants`` (ollama.com).

Variants say, for the chosen server (``?server=``), whether each tag is
installed and whether the local copy matches ollama.com
(``usecases/library.py``).
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, jsonify, request

from ollama_webmgr.api.inputs import bad_request
from ollama_webmgr.api.openapi import (
    BAD,
    OK,
    SERVER_Q,
    STR,
    UNKNOWN,
    operation,
    query,
)
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.usecases.library import search_library, variants_with_status

bp = Blueprint("api_remote", __name__)


def page_number(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    if not raw.isdigit():
        bad_request("Numéro de page invalide : un entier positif est attendu.")
    return int(raw)


@bp.get("/api/remote/search")
@operation(
    "bibliothèque",
    "Rechercher sur ollama.com",
    params=[
        query("q", STR, "Texte recherché"),
        query("c", STR, "Capacité (tools, vision…)"),
        query("page", {"type": "integer", "minimum": 1}, "Page"),
    ],
    answers={**OK, **BAD},
)
def search() -> Response:
    args = request.args
    page = search_library(
        get_services(),
        args.get("q", ""),
        capability=args.get("c"),
        page=page_number(args.get("page")),
    )
    return jsonify(
        query=page.query,
        capability=page.capability,
        page=page.page,
        next_page=page.next_page,
        degraded=page.degraded,
        models=[asdict(model) for model in page.models],
    )


@bp.get("/api/remote/variants")
@operation(
    "bibliothèque",
    "Variantes (tags) d’un modèle, avec leur état sur le serveur",
    params=[query("model", STR, "Nom du modèle", True), SERVER_Q],
    answers={**OK, **BAD, **UNKNOWN},
)
def variants() -> Response:
    model = request.args.get("model", "").strip()
    if not model:
        bad_request("Paramètre « model » manquant.")
    rows = variants_with_status(get_services(), model, request.args.get("server"))
    return jsonify(
        model=model,
        variants=[{**asdict(variant), **status} for variant, status in rows],
    )
