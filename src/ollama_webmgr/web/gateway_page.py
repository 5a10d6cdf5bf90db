"""The « Passerelle » page: gateway settings, drain switches and API keys.

Plain HTML forms (CSRF field), so the page works without JavaScript; each
action answers the page again with a message. The same changes are available
as JSON under ``/api/gateway/...``; both apply at once and are audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.errors import (
    InvalidApiKeyLabel,
    InvalidGatewaySettings,
    UnknownApiKey,
    UnknownServer,
)
from ollama_webmgr.french.messages import (
    describe_error,
    setting_expectation,
    unknown_server_named,
)
from ollama_webmgr.gateway.status import fleet_status
from ollama_webmgr.usecases import gateway_settings as gs
from ollama_webmgr.web.htmx import render_page

bp = Blueprint("gateway_page", __name__, url_prefix="/passerelle")

STRATEGIES = (
    ("least_in_flight", "Le moins chargé"),
    ("round_robin", "Chacun son tour"),
    ("weighted", "Selon le poids"),
    ("latency", "Le plus rapide (temps de première réponse)"),
)
#: field -> French label, in the order of the form
FIELDS = (
    ("max_attempts", "Serveurs essayés avant d’abandonner"),
    ("default_limit", "Requêtes simultanées par serveur (0 : sans limite)"),
    ("queue_size", "Requêtes en attente par serveur"),
    ("queue_timeout", "Attente maximale d’une place (en secondes)"),
    ("connect_timeout", "Délai de connexion (en secondes)"),
    ("read_timeout", "Délai entre deux lectures (en secondes)"),
    ("pull_timeout", "Délai des téléchargements (en secondes)"),
    ("health_interval", "Intervalle des vérifications de santé (en secondes)"),
    ("health_timeout", "Délai d’une vérification (en secondes)"),
    ("failures_to_down", "Échecs avant de déclarer un serveur hors service"),
    ("successes_to_up", "Succès avant de le remettre en service"),
    (
        "backoff_max",
        "Attente maximale entre deux essais d’un serveur hors service (en secondes)",
    ),
    ("sticky_size", "Conversations mémorisées"),
)
#: every setting's label, as the person reads it next to the field
LABELS = {
    "strategy": "Répartition",
    "sticky": "Garder une conversation sur le même serveur",
    "origins": "Origines web autorisées (CORS)",
    **dict(FIELDS),
}


def input_value(value: Any) -> str:
    """A setting as a French form field shows it: no « 30.0 », a decimal comma.

    >>> input_value(30.0), input_value(2.5), input_value(3), input_value("abc")
    ('30', '2,5', '3', 'abc')
    """
    if isinstance(value, float):
        return (
            f"{value:g}".replace(".", ",") if value != int(value) else str(int(value))
        )
    return str(value)


def _page(
    status: int = 200,
    *,
    message: str | None = None,
    error: str | None = None,
    new_key: str | None = None,
    typed: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
) -> Response:
    """The page; ``typed`` (the form as sent) and ``problems`` (field -> what it
    expects) show a refused form as the person left it, each error by its field."""
    services = get_services()
    config = services.gateway.app.config
    values = gs.editable_values(config)
    shown = {name: input_value(values[name]) for name, _ in FIELDS}
    shown["origins"] = ", ".join(values["origins"])
    shown["strategy"] = values["strategy"]
    shown["sticky"] = "on" if values["sticky"] else ""
    return render_page(
        "gateway.html",
        status,
        values=values,
        shown={**shown, **(typed or {})},
        problems=problems or {},
        strategies=STRATEGIES,
        fields=FIELDS,
        servers=fleet_status(services.gateway.app),
        keys=gs.api_keys(services),
        message=message,
        error=error,
        new_key=new_key,
    )


@bp.get("")
def show() -> Response:
    return _page()


@bp.post("/config")
def save_config() -> Response:
    current = gs.editable_values(get_services().gateway.app.config)
    form = request.form
    changes: dict[str, Any] = {
        "strategy": form.get("strategy", ""),
        "sticky": form.get("sticky") == "on",
        "origins": [o.strip() for o in form.get("origins", "").split(",") if o.strip()],
    }
    for name, _label in FIELDS:
        changes[name] = _number(form.get(name, ""), current[name])
    try:
        gs.change_settings(get_services(), current_actor(), changes)
    except InvalidGatewaySettings as exc:
        problems = {
            name: setting_expectation(reason, on_form=True)
            for name, reason in exc.problems.items()
        }
        typed = {name: form.get(name, "") for name, _ in FIELDS}
        for name in ("origins", "strategy", "sticky"):
            typed[name] = form.get(name, "")
        return _page(400, error=_summary(problems), typed=typed, problems=problems)
    return _page(message="Réglages enregistrés : ils s’appliquent tout de suite.")


def _summary(problems: dict[str, str]) -> str:
    """One French sentence naming each refused field by its label."""
    parts = [f"« {LABELS[name]} » : {expected}" for name, expected in problems.items()]
    if len(parts) == 1:
        return f"Réglage non enregistré. {parts[0]}."
    return (
        f"Réglages non enregistrés ({len(parts)} à corriger). "
        + " ; ".join(parts)
        + "."
    )


def _number(raw: str, current: Any) -> Any:
    """The form's text as the type of the current value (else the text, refused).

    « 2,5 » and « 10 000 » are read as a French person types them:

    >>> _number("10 000", 1), _number(" 2,5 ", 1.0), _number("abc", 1)
    (10000, 2.5, 'abc')
    """
    text = "".join(raw.split()).replace("\u202f", "").replace(",", ".")
    try:
        return int(text) if isinstance(current, int) else float(text)
    except ValueError:
        return text


@bp.post("/drain")
def drain() -> Response:
    name = request.form.get("server", "")
    draining = request.form.get("draining") == "1"
    try:
        gs.set_draining(get_services(), current_actor(), name, draining)
    except UnknownServer:
        return _page(404, error=unknown_server_named(name))
    if draining:
        return _page(
            message=f"{name} est vidé : plus de nouvelles requêtes,"
            " celles en cours se terminent."
        )
    return _page(message=f"{name} est remis en service.")


@bp.post("/keys")
def create_key() -> Response:
    label = request.form.get("label", "")
    try:
        created = gs.issue_api_key(get_services(), current_actor(), label)
    except InvalidApiKeyLabel as exc:
        return _page(400, error=describe_error(exc).message)
    name = created.entry["label"]
    return _page(message=f"Clé « {name} » créée.", new_key=created.key)


@bp.post("/keys/<key_id>/delete")
def delete_key(key_id: str) -> Response:
    try:
        gs.revoke_api_key(get_services(), current_actor(), key_id)
    except UnknownApiKey as exc:
        return _page(404, error=describe_error(exc).message)
    return _page(message="Clé supprimée.")
