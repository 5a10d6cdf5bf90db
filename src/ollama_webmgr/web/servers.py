"""The « Serveurs » page: the fleet with its status, and forms to change it.

Every form posts with htmx and gets the refreshed panel back; a refused change
(bad name or address, unreachable server, duplicate...) re-renders the panel
with the French reason next to the forms, plus a toast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, render_template, request

from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.errors import FleetError, InvalidServerUrl
from ollama_webmgr.french.messages import describe_error
from ollama_webmgr.usecases import fleet as uc
from ollama_webmgr.usecases.status import fleet_status
from ollama_webmgr.web.htmx import render_page, toast

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

bp = Blueprint("servers", __name__)


def panel_context(services: Services, error: str | None = None) -> dict[str, Any]:
    fleet = uc.fleet_of(services)
    servers = fleet.registry.all()
    return {
        "statuses": fleet_status(servers, services.clients),
        "configured": {s.name for s in servers if fleet.is_configured(s)},
        "agents": {s.name: fleet.agent_of(s) for s in servers},
        "form_error": error,
    }


@bp.get("/servers")
def page() -> Response:
    return render_page("servers.html", **panel_context(get_services()))


Done = str | tuple[str, str]  # a message, or (message, toast level)


def _change(apply: Callable[[Services], Done]) -> Response:
    """Apply a change; answer the panel with a toast (success or French reason)."""
    services = get_services()
    try:
        done = apply(services)
    except (FleetError, InvalidServerUrl) as exc:
        reason = describe_error(exc).message
        html = render_template("_servers_panel.html", **panel_context(services, reason))
        return toast(Response(html, status=200), reason, "error")
    message, level = (done, "success") if isinstance(done, str) else done
    html = render_template("_servers_panel.html", **panel_context(services))
    return toast(Response(html), message, level)


@bp.post("/servers/add")
def add() -> Response:
    name, url = request.form.get("name", ""), request.form.get("url", "")

    def apply(services: Services) -> str:
        server = uc.add_server(services, current_actor(), name, url)
        return f"Serveur {server.name} ajouté."

    return _change(apply)


@bp.post("/servers/<name>/rename")
def rename(name: str) -> Response:
    new_name = request.form.get("new_name", "")

    def apply(services: Services) -> str:
        server = uc.change_server(services, current_actor(), name, new_name=new_name)
        return f"Serveur renommé en {server.name}."

    return _change(apply)


@bp.post("/servers/<name>/toggle")
def toggle(name: str) -> Response:
    def apply(services: Services) -> str:
        server = uc.switch_server(services, current_actor(), name)
        return f"Serveur {name} {'activé' if server.enabled else 'désactivé'}."

    return _change(apply)


@bp.post("/servers/<name>/agent")
def agent(name: str) -> Response:
    address = request.form.get("agent", "")

    def apply(services: Services) -> Done:
        report = uc.set_agent(services, current_actor(), name, address).report
        agent = address.strip()
        if not agent:
            return f"Agent retiré de {name}."
        if report is not None and not report.ok:
            return (
                f"Agent {agent} enregistré pour {name}, mais il ne répond pas"
                " pour l’instant : vérifiez qu’il tourne (ollama-webmgr agent)"
                " et que son port est joignable.",
                "error",
            )
        return f"Agent {agent} enregistré pour {name} : voir la page Matériel."

    return _change(apply)


@bp.post("/servers/<name>/delete")
def delete(name: str) -> Response:
    def apply(services: Services) -> str:
        uc.remove_server(services, current_actor(), name)
        return f"Serveur {name} supprimé."

    return _change(apply)
