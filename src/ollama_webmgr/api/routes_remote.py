"""``GET /api/remote/search`` and ``GET /api/remote/variants`` (ollama.com).

Variants say, for the chosen server (``?server=``), whether each tag is
installed and whether the local copy matches ollama.com: the page's 12-hex id
is the start of the manifest digest, which is the local digest too.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ollama_webmgr.api.inputs import bad_request, server_named
from ollama_webmgr.ollama.library import RemoteVariant
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.usecases.probe import ask
from ollama_webmgr.wiring import get_services

bp = Blueprint("api_remote", __name__)


def page_number(raw: str | None) -> int:
    if raw is None or raw == "":
        return 1
    if not raw.isdigit():
        bad_request("Numéro de page invalide : un entier positif est attendu.")
    return int(raw)


@bp.get("/api/remote/search")
def search() -> Response:
    args = request.args
    page = get_services().library.search(
        args.get("q", ""), capability=args.get("c"), page=page_number(args.get("page"))
    )
    return jsonify(
        query=page.query,
        capability=page.capability,
        page=page.page,
        next_page=page.next_page,
        degraded=page.degraded,
        models=[asdict(model) for model in page.models],
    )


def local_digests(server_name: str | None) -> dict[tuple[str, ...], str] | None:
    """Installed model key → 12-hex id on the server, or None if it did not answer."""
    services = get_services()
    server = server_named(services, server_name)
    outcome = ask(server, lambda client: client.tags(), services.clients)
    if outcome.value is None:
        return None
    return {_key(tag.name): tag.short_id for tag in outcome.value}


def variant_status(
    variant: RemoteVariant, installed: dict[tuple[str, ...], str] | None
) -> dict[str, Any]:
    """``installed`` / ``up_to_date``: None when unknown (server down, no id)."""
    if installed is None:
        return {"installed": None, "up_to_date": None}
    local = installed.get(_key(variant.name))
    if local is None:
        return {"installed": False, "up_to_date": None}
    same = local == variant.short_digest if variant.short_digest else None
    return {"installed": True, "up_to_date": same}


def variants_with_status(
    model: str, server_name: str | None
) -> list[tuple[RemoteVariant, dict[str, Any]]]:
    variants = get_services().library.variants(model)
    installed = local_digests(server_name)
    return [(variant, variant_status(variant, installed)) for variant in variants]


@bp.get("/api/remote/variants")
def variants() -> Response:
    model = request.args.get("model", "").strip()
    if not model:
        bad_request("Paramètre « model » manquant.")
    rows = variants_with_status(model, request.args.get("server"))
    return jsonify(
        model=model,
        variants=[{**asdict(variant), **status} for variant, status in rows],
    )


def _key(name: str) -> tuple[str, ...]:
    return tuple(ModelName.parse(name).key)
