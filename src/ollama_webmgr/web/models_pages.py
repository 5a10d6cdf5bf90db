"""The model pages: ``/models`` (one server or all of them) and ``/models/<name>``.

Actions are plain HTML forms that HTMX upgrades: with HTMX they answer the
fragment to swap (the list or the jobs panel) and a toast; without it, a
redirect back to the page. Fragments live under ``/models/-/`` because no model
name can start with ``-``.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from ollama_webmgr.errors import OllamaError, UnknownServer
from ollama_webmgr.manager import model_jobs, models
from ollama_webmgr.web import models_view
from ollama_webmgr.web.auth import current_actor
from ollama_webmgr.web.htmx import is_htmx, render_page, toast
from ollama_webmgr.web.messages import describe_error
from ollama_webmgr.wiring import Services, get_services

bp = Blueprint("models_pages", __name__, url_prefix="/models")


def _server_choice(services: Services) -> str:
    """``all``, or the name of a known server (unknown names: the primary)."""
    chosen = request.values.get("server", "")
    if chosen == models.ALL_SERVERS:
        return chosen
    try:
        return models.resolve_server(services, chosen or None).name
    except UnknownServer:
        return models.resolve_server(services, None).name


def _listing(services: Services, server: str, refresh: bool) -> dict[str, Any]:
    statuses = model_jobs.update_statuses(services)
    context: dict[str, Any] = {"view_server": server, "rows": [], "failures": {}}
    try:
        if server == models.ALL_SERVERS:
            fleet = models.list_all(services, refresh=refresh)
            context["rows"] = models_view.fleet_rows(fleet, statuses)
            context["failures"] = {
                name: describe_error(exc).message
                for name, exc in fleet.failures.items()
            }
        else:
            listing = models.list_models(services, server, refresh=refresh)
            context["rows"] = models_view.server_rows(listing, statuses)
    except OllamaError as exc:
        context["failures"] = {server: describe_error(exc).message}
    return context


def _page_context(services: Services) -> dict[str, Any]:
    server = _server_choice(services)
    refresh = request.args.get("refresh") == "1"
    return {
        **_listing(services, server, refresh),
        "servers": services.servers.active(),
        "jobs": models_view.model_job_views(services),
    }


@bp.get("")
def index() -> Response:
    return render_page("models.html", **_page_context(get_services()))


@bp.get("/-/list")
def list_fragment() -> Response:
    services = get_services()
    server = _server_choice(services)
    refresh = request.args.get("refresh") == "1"
    return _fragment("_models_list.html", **_listing(services, server, refresh))


@bp.get("/-/jobs")
def jobs_fragment() -> Response:
    return _jobs_answer(get_services())


def _fragment(template: str, **context: Any) -> Response:
    response = Response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


def _back(services: Services) -> Response:
    """A plain form was posted: back to the list it came from."""
    return make_response(
        redirect(url_for(".index", server=_server_choice(services)), 303)
    )


def _jobs_answer(services: Services, message: str | None = None) -> Response:
    """The jobs panel for HTMX, or back to the list for a plain form."""
    if not is_htmx():
        return _back(services)
    response = _fragment("_model_jobs.html", jobs=models_view.model_job_views(services))
    return toast(response, message) if message else response


def _list_answer(services: Services, message: str) -> Response:
    if not is_htmx():
        return _back(services)
    server = _server_choice(services)
    response = _fragment("_models_list.html", **_listing(services, server, False))
    return toast(response, message, "success")


def _targets() -> Any:
    """The servers ticked in the pull form; "all" wins; none: the page's server."""
    chosen = request.form.getlist("servers")
    if models.ALL_SERVERS in chosen:
        return models.ALL_SERVERS
    return chosen or request.form.get("server") or None


@bp.post("/-/pull")
def pull() -> Response:
    services = get_services()
    jobs = model_jobs.submit_pull(
        services, _targets(), request.form.get("name"), who=current_actor()
    )
    plural = "s" if len(jobs) > 1 else ""
    return _jobs_answer(services, f"Téléchargement{plural} lancé{plural}.")


@bp.post("/-/check")
def check() -> Response:
    services = get_services()
    model_jobs.submit_check(
        services, request.form.get("server") or None, request.form.get("name") or None
    )
    return _jobs_answer(services, "Vérification des mises à jour lancée.")


@bp.post("/-/update_all")
def update_all() -> Response:
    services = get_services()
    jobs = model_jobs.submit_updates(
        services,
        request.form.get("server") or models.ALL_SERVERS,
        who=current_actor(),
    )
    if not jobs:
        return _jobs_answer(
            services,
            "Aucune mise à jour connue : lancez d’abord une vérification.",
        )
    return _jobs_answer(services, f"{len(jobs)} mise(s) à jour lancée(s).")


@bp.post("/-/delete")
def delete() -> Response:
    services = get_services()
    name = request.form.get("name", "")
    server = models.delete_model(
        services, request.form.get("server"), name, who=current_actor()
    )
    return _list_answer(services, f"« {name} » supprimé de {server.name}.")


@bp.post("/-/copy")
def copy() -> Response:
    services = get_services()
    source, dest = request.form.get("name", ""), request.form.get("dest", "")
    server = request.form.get("server")
    models.copy_model(services, server, source, dest, who=current_actor())
    if request.form.get("rename"):
        models.delete_model(services, server, source, who=current_actor())
        return _list_answer(services, f"« {source} » renommé en « {dest} ».")
    return _list_answer(services, f"« {source} » copié en « {dest} ».")


@bp.post("/-/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    services = get_services()
    services.runner.cancel(job_id)
    return _jobs_answer(services, "Annulation demandée.")


@bp.post("/-/jobs/<job_id>/retry")
def retry_job(job_id: str) -> Response:
    services = get_services()
    model_jobs.retry_job(services, job_id)
    return _jobs_answer(services, "Tâche relancée.")


@bp.get("/<path:name>")
def detail(name: str) -> Response:
    services = get_services()
    display = models.valid_name(name)
    holders = models.holders(services, display)
    chosen = _server_choice(services)
    if chosen == models.ALL_SERVERS or (chosen not in holders and holders):
        chosen = next(iter(holders), chosen)
    server = models.resolve_server(services, chosen.replace(models.ALL_SERVERS, ""))
    info = models.show_model(services, server.name, display)
    return render_page(
        "model_detail.html",
        name=display,
        view_server=server.name,
        info=info,
        holders=holders,
        drift=len({tag.digest for tag in holders.values()}) > 1,
        servers=services.servers.active(),
        jobs=models_view.model_job_views(services, model=display),
    )
