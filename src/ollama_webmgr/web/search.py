"""The « Recherche » page: ollama.com search, variants, download buttons.

Results and variants are htmx fragments. When ollama.com cannot be reached the
fragment says « Recherche indisponible » (answered 200 so htmx swaps it in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, render_template, request

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.errors import (
    InvalidSearchQuery,
    RemoteModelNotFound,
    RemoteUnavailable,
    UnknownServer,
)
from ollama_webmgr.usecases.library import search_library, variants_with_status
from ollama_webmgr.usecases.servers import chosen_server, primary_server
from ollama_webmgr.web.htmx import render_page

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

bp = Blueprint("search", __name__)

CAPABILITIES = (
    ("", "Tous"),
    ("tools", "Outils"),
    ("vision", "Images"),
    ("thinking", "Raisonnement"),
    ("embedding", "Vectorisation"),
)


def _target(services: Services) -> Server:
    """Where « Télécharger » pulls: the server chosen on the page, else the primary."""
    try:
        return chosen_server(services.servers, request.args.get("server"))
    except UnknownServer:
        return primary_server(services.servers)


def _page_number(raw: str | None) -> int:
    """The page asked for (``InvalidSearchQuery`` unless a positive integer)."""
    if raw is None or raw == "":
        return 1
    if not raw.isdigit():
        raise InvalidSearchQuery(f"page {raw!r} is not a positive integer")
    return int(raw)


def results_context() -> dict[str, Any]:
    args = request.args
    query, capability = args.get("q", ""), args.get("c", "")
    services = get_services()
    context: dict[str, Any] = {
        "query": query,
        "capability": capability,
        "target": _target(services),
        "servers": services.servers.active(),
    }
    try:
        context["results"] = search_library(
            services,
            query,
            capability=capability or None,
            page=_page_number(args.get("page")),
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
    services = get_services()
    server = _target(services)
    context: dict[str, Any] = {"model": model, "server": server}
    try:
        context["rows"] = variants_with_status(services, model, server.name)
    except RemoteModelNotFound:
        context["missing"] = True
    except RemoteUnavailable:
        context["unavailable"] = True
    return render_template("_variants.html", **context)
