"""The model pages: ``/models`` (one server or all of them) and ``/models/<name>``.

Actions are plain HTML forms that HTMX upgrades: with HTMX they answer the
fragment to swap (the list, the jobs panel, or the cards of the jobs just
started) and a toast; without it, a redirect back to the page with the same
message as a flashed toast. Fragments live under ``/models/-/`` because no model
name can start with ``-``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import (
    Blueprint,
    Response,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.errors import OllamaError, UnknownServer
from ollama_webmgr.french.messages import describe_error
from ollama_webmgr.usecases import model_jobs, models
from ollama_webmgr.usecases.servers import ALL_SERVERS, chosen_server
from ollama_webmgr.web import models_view
from ollama_webmgr.web.htmx import is_htmx, render_page, toast

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

bp = Blueprint("models_pages", __name__, url_prefix="/models")

#: session keys: the server last shown, and the finished jobs a person dismissed
CHOSEN_KEY = "models_server"
HIDDEN_KEY = "jobs_hidden"
CLEARED_KEY = "jobs_cleared"
MAX_HIDDEN = 40


def _server_choice(services: Services) -> str:
    """``all``, or the name of a known server: asked, else the last one shown."""
    asked = request.values.get("server", "")
    chosen = asked or session.get(CHOSEN_KEY, "")
    if chosen == ALL_SERVERS:
        name = chosen
    else:
        try:
            name = chosen_server(services.servers, chosen or None).name
        except UnknownServer:
            name = chosen_server(services.servers, None).name
    if asked and request.method == "GET":
        session[CHOSEN_KEY] = name
    return name


def _hidden() -> models_view.Hidden:
    return models_view.Hidden(
        frozenset(session.get(HIDDEN_KEY, ())), float(session.get(CLEARED_KEY, 0.0))
    )


def _listing(services: Services, server: str, refresh: bool) -> dict[str, Any]:
    statuses = model_jobs.update_statuses(services)
    context: dict[str, Any] = {"view_server": server, "rows": [], "failures": {}}
    try:
        if server == ALL_SERVERS:
            fleet = models.list_all(services, refresh=refresh)
            loaded = models_view.loaded_models(services, fleet.servers)
            context["rows"] = models_view.fleet_rows(fleet, statuses, loaded)
            context["failures"] = {
                name: describe_error(exc).message
                for name, exc in fleet.failures.items()
            }
        else:
            listing = models.list_models(services, server, refresh=refresh)
            loaded = models_view.loaded_models(services, [listing.server])
            context["rows"] = models_view.server_rows(listing, statuses, loaded)
    except OllamaError as exc:
        context["failures"] = {server: describe_error(exc).message}
    return context


def _scope() -> tuple[str | None, str | None]:
    """The jobs panel's scope: (server name or None for all, model or None)."""
    server = request.values.get("scope_server") or None
    model = request.values.get("scope_model") or None
    return (None if server == ALL_SERVERS else server), model


def _panel_context(services: Services) -> dict[str, Any]:
    server, model = _scope()
    panel = models_view.model_job_panel(
        services, model=model, server=server, hidden=_hidden()
    )
    return {"panel": panel, "scope_server": server or "", "scope_model": model or ""}


@bp.get("")
def index() -> Response:
    services = get_services()
    server = _server_choice(services)
    refresh = request.args.get("refresh") == "1"
    scope = None if server == ALL_SERVERS else server
    panel = models_view.model_job_panel(services, server=scope, hidden=_hidden())
    return render_page(
        "models.html",
        **_listing(services, server, refresh),
        servers=services.servers.active(),
        panel=panel,
        scope_server=server,
        scope_model="",
    )


@bp.get("/-/list")
def list_fragment() -> Response:
    services = get_services()
    server = _server_choice(services)
    refresh = request.args.get("refresh") == "1"
    return _fragment("_models_list.html", **_listing(services, server, refresh))


@bp.get("/-/jobs")
def jobs_fragment() -> Response:
    return _fragment("_model_jobs.html", **_panel_context(get_services()))


@bp.get("/-/jobs/<job_id>")
def job_card(job_id: str) -> Response:
    """One job's card (pages that show it inline refresh it when it ends)."""
    job = models_view.job_view(get_services().runner.get(job_id))
    return _fragment("_job_cards.html", jobs=[job], inline=True)


def _fragment(template: str, **context: Any) -> Response:
    response = Response(render_template(template, **context))
    response.vary.add("HX-Request")
    return response


def _back(services: Services, message: str, level: str) -> Response:
    """A plain form was posted: back to the list it came from, message flashed."""
    flash(message, level)
    target = url_for(".index", server=_server_choice(services))
    return make_response(redirect(target, 303))


def _jobs_answer(
    services: Services, message: str, jobs: list[Any] | None = None
) -> Response:
    """The jobs panel (or the cards of ``jobs``) for HTMX; a redirect otherwise."""
    if not is_htmx():
        return _back(services, message, "info")
    if jobs is not None and request.form.get("answer") == "cards":
        views = [models_view.job_view(job) for job in jobs]
        response = _fragment("_job_cards.html", jobs=views, inline=True)
    else:
        response = _fragment("_model_jobs.html", **_panel_context(services))
    return toast(response, message)


def _list_answer(services: Services, message: str) -> Response:
    """The fresh list for HTMX; back to the list (a full page) otherwise, or when
    the form asks for it (the detail page: its model may be gone)."""
    if not is_htmx() or request.form.get("answer") == "redirect":
        return _back(services, message, "success")
    server = _server_choice(services)
    response = _fragment("_models_list.html", **_listing(services, server, False))
    return toast(response, message, "success")


def _targets() -> Any:
    """The servers ticked in the pull form; "all" wins; none: the page's server."""
    chosen = request.form.getlist("servers")
    if ALL_SERVERS in chosen:
        return ALL_SERVERS
    return chosen or request.form.get("server") or None


@bp.post("/-/pull")
def pull() -> Response:
    services = get_services()
    jobs = model_jobs.submit_pull(
        services, current_actor(), _targets(), request.form.get("name")
    )
    text = "Téléchargements lancés." if len(jobs) > 1 else "Téléchargement lancé."
    return _jobs_answer(services, text, jobs)


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
        services, current_actor(), request.form.get("server") or ALL_SERVERS
    )
    if not jobs:
        return _jobs_answer(
            services,
            "Aucune mise à jour connue : lancez d’abord une vérification.",
        )
    count = len(jobs)
    text = f"{count} mises à jour lancées." if count > 1 else "1 mise à jour lancée."
    return _jobs_answer(services, text)


@bp.post("/-/delete")
def delete() -> Response:
    services = get_services()
    deleted = models.delete_model(
        services,
        current_actor(),
        request.form.get("server"),
        request.form.get("name", ""),
    )
    name, server = deleted.model, deleted.server.name
    if deleted.unloaded is None:
        message = f"« {name} » supprimé de {server}."
    elif deleted.unloaded:
        message = f"« {name} » déchargé de la mémoire puis supprimé de {server}."
    else:
        message = (
            f"« {name} » supprimé de {server} ; occupé, il quittera la mémoire "
            "à la fin de ses requêtes."
        )
    return _list_answer(services, message)


@bp.post("/-/copy")
def copy() -> Response:
    services = get_services()
    source, dest = request.form.get("name", ""), request.form.get("dest", "")
    server = request.form.get("server")
    if request.form.get("rename"):
        models.rename_model(services, current_actor(), server, source, dest)
        dest = models.valid_name(dest)
        return _list_answer(services, f"« {source} » renommé en « {dest} ».")
    models.copy_model(services, current_actor(), server, source, dest)
    dest = models.valid_name(dest)
    return _list_answer(services, f"« {source} » copié en « {dest} ».")


@bp.post("/-/jobs/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    services = get_services()
    model_jobs.cancel_job(services, job_id)
    return _jobs_answer(services, "Annulation demandée.", [services.runner.get(job_id)])


@bp.post("/-/jobs/<job_id>/retry")
def retry_job(job_id: str) -> Response:
    services = get_services()
    job = model_jobs.retry_job(services, job_id)
    return _jobs_answer(services, "Tâche relancée.", [job])


@bp.post("/-/jobs/<job_id>/hide")
def hide_job(job_id: str) -> Response:
    """Dismiss one finished job from this person's panels."""
    hidden = [i for i in session.get(HIDDEN_KEY, []) if i != job_id]
    session[HIDDEN_KEY] = [*hidden, job_id][-MAX_HIDDEN:]
    return _jobs_answer(get_services(), "Tâche masquée.")


@bp.post("/-/jobs/clear")
def clear_jobs() -> Response:
    """Dismiss every finished job (the ones still running stay)."""
    session[CLEARED_KEY] = time.time()
    session.pop(HIDDEN_KEY, None)
    return _jobs_answer(get_services(), "Tâches terminées masquées.")


@bp.get("/<path:name>")
def detail(name: str) -> Response:
    services = get_services()
    display = models.valid_name(name)
    holders = models.holders(services, display)
    chosen = _server_choice(services)
    if chosen == ALL_SERVERS or (chosen not in holders and holders):
        chosen = next(iter(holders), chosen)
    server = chosen_server(services.servers, chosen.replace(ALL_SERVERS, ""))
    info = models.show_model(services, server.name, display)
    loaded = models_view.loaded_models(services, [server])
    return render_page(
        "model_detail.html",
        name=display,
        view_server=server.name,
        info=info,
        holders=holders,
        loaded=(server.name, models.name_key(display)) in loaded,
        drift=len({tag.digest for tag in holders.values()}) > 1,
        servers=services.servers.active(),
        panel=models_view.model_job_panel(services, model=display, hidden=_hidden()),
        scope_server="",
        scope_model=display,
    )
