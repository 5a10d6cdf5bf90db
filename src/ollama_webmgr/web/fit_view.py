"""``GET /h/fit?model=<name>&server=<name>[&size=<bytes>]``: the fit-hint fragment.

The model's size comes from ``size`` (a remote model), else from the server's
``/api/tags``, else from the ``models`` table. Free VRAM / RAM / disk come from
each node's agent report; a node without an agent shows what ``/api/ps`` says
is loaded in VRAM.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import Response, make_response, render_template, request

from ollama_webmgr.cluster.hardware import vram_from_ps
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import OllamaError
from ollama_webmgr.ollama.names import is_valid_name, same_model
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.repositories import ModelRecords, ServerRecords
from ollama_webmgr.usecases.fit import NodeCapacity, fit_hint
from ollama_webmgr.usecases.observability import free_resources

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

log = logging.getLogger(__name__)


def fit_fragment(services: Services) -> Response:
    model = request.args.get("model", "").strip()
    size_text = request.args.get("size", "").strip()
    if not is_valid_name(model) or (size_text and not size_text.isdigit()):
        return _render(400, error="Nom de modèle ou taille invalide.", model=model)
    servers = services.servers.all()
    origin = next((s for s in servers if s.name == request.args.get("server")), None)
    size = int(size_text) if size_text else _size_of(services, model, origin)
    if size is None:
        return _render(
            200, error="Taille du modèle inconnue : impossible d’estimer.", model=model
        )
    nodes = [_capacity(services, server, model, origin) for server in servers]
    return _render(200, fits=fit_hint(size, nodes), size=size, model=model)


def _render(status: int, **context: object) -> Response:
    response = make_response(render_template("_fit_hint.html", **context))
    response.status_code = status
    return response


def _size_of(services: Services, model: str, origin: Server | None) -> int | None:
    if origin is not None:
        try:
            tags = services.clients.get(origin).tags()
        except OllamaError as exc:
            log.info("fit hint: listing %s failed: %s", origin.name, exc)
        else:
            found = next((t for t in tags if same_model(t.name, model)), None)
            if found is not None:
                return found.size
    record = ModelRecords(services.db).by_name(model)
    return None if record is None else record.size


def _capacity(
    services: Services, server: Server, model: str, origin: Server | None
) -> NodeCapacity:
    # the store keys a server by host:port, as the agents' reports are written
    record = ServerRecords(services.db).by_address(display_address(server.url))
    info = {} if record is None else record.hardware
    free = free_resources(info)
    vram_used = None
    if not info.get("agent"):
        try:
            vram_used = vram_from_ps(
                {"size_vram": m.size_vram} for m in services.clients.get(server).ps()
            )
        except OllamaError as exc:
            log.info("fit hint: /api/ps of %s failed: %s", server.name, exc)
    return NodeCapacity(
        name=server.name,
        vram_free=free["vram"],
        ram_free=free["ram"],
        disk_free=free["disk"],
        vram_used=vram_used,
        has_model=origin is not None and origin.name == server.name,
    )
