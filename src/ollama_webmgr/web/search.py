"""The « Recherche » page: ollama.com search, variants, download buttons.

Results and variants are htmx fragments. When ollama.com cannot be reached the
fragment says « Recherche indisponible » (answered 200 so htmx swaps it in).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request

from ollama_webmgr.api.inputs import server_named
from ollama_webmgr.api.routes_remote import page_number, variants_with_status
from ollama_webmgr.errors import RemoteModelNotFound, RemoteUnavailable
from ollama_webmgr.web.htmx import render_page
from ollama_webmgr.wiring import get_services

bp = Blueprint("search", __name__)

CAPABILITIES = (
    ("", "Tous"),
    ("tools", "Outils"),
    ("vision", "Vision"),
    ("thinking", "Raisonnement"),
    ("embedding", "Embeddings"),
)


def results_context() -> dict[str, Any]:
    args = request.args
    query, capability = args.get("q", ""), args.get("c", "")
    context: dict[str, Any] = {"query": query, "capability": capability}
    try:
        context["results"] = get_services().library.search(
            query, capability=capability or None, page=page_number(args.get("page"))
        )
    except RemoteUnavailable:
        context["unavailable"] = True
    return context


@bp.get("/search")
def page() -> Response:
    return render_page("search.html", capabilities=CAPABILITIES, **results_context())


@bp.get("/search/results")
def results() -> str:
    return render_template("_search_results.html", **results_context())


@bp.get("/search/variants")
def variants() -> str:
    model = request.args.get("model", "").strip()
    server = server_named(get_services(), request.args.get("server"))
    context: dict[str, Any] = {"model": model, "server": server}
    try:
        context["rows"] = variants_with_status(model, server.name)
    except RemoteModelNotFound:
        context["missing"] = True
    except RemoteUnavailable:
        context["unavailable"] = True
    return render_template("_variants.html", **context)
