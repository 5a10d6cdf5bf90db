"""The « En cours » page: loaded models of every enabled server, with eject.

The table is a fragment (``/running/table``) that the page re-fetches every 5 s
with htmx polling; « Éjecter » posts to ``/running/eject`` and gets the fresh
fragment back. « Forcer » goes through the JSON API and the SSE progress route
(``assets/running.js``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, render_template, request

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.french.labels import expiry, gpu_share
from ollama_webmgr.ollama.payloads import RunningModel
from ollama_webmgr.usecases.probe import Outcome
from ollama_webmgr.usecases.running import eject as eject_model
from ollama_webmgr.usecases.running import loaded_models
from ollama_webmgr.web.htmx import render_page, toast

bp = Blueprint("running", __name__)


@dataclass(frozen=True, slots=True)
class Row:
    server: Server
    model: RunningModel

    @property
    def share(self) -> str:
        return gpu_share(self.model.size, self.model.size_vram)

    @property
    def expires(self) -> str:
        return expiry(self.model.expires_at)


def table_context() -> dict[str, Any]:
    services = get_services()
    outcomes = loaded_models(services, services.servers.active())
    return {"rows": rows_of(outcomes), "down": [o.server for o in outcomes if not o.ok]}


def rows_of(outcomes: list[Outcome[list[RunningModel]]]) -> list[Row]:
    return [Row(o.server, model) for o in outcomes for model in o.value or []]


@bp.get("/running")
def page() -> Response:
    return render_page("running.html", **table_context())


@bp.get("/running/table")
def table() -> str:
    return render_template("_running_table.html", **table_context())


@bp.post("/running/eject")
def eject() -> Response:
    form = request.form
    done = eject_model(
        get_services(), current_actor(), form.get("server"), form.get("name", "")
    )
    name, server = done.model, done.server.name
    response = Response(render_template("_running_table.html", **table_context()))
    if done.gone:
        return toast(response, f"{name} éjecté de {server}.", "success")
    return toast(
        response,
        f"{name} est toujours chargé sur {server} : essayez « Forcer ».",
        "warning",
    )
