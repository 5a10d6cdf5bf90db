"""The « Téléchargements » page: the bandwidth caps and the pull watchdog.

A plain HTML form (CSRF field), so the page works without JavaScript. Rates
are typed in Mo/s (10⁶ bytes/s, as sizes are shown), empty for no cap; the
JSON API (``/api/downloads/config``) takes bytes/s. Both go through the same
use case (``usecases/download_settings.py``): checked, kept, audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.errors import InvalidDownloadSettings
from ollama_webmgr.french.messages import download_expectation
from ollama_webmgr.usecases import download_settings as ds
from ollama_webmgr.web.gateway_page import input_value
from ollama_webmgr.web.htmx import render_page

bp = Blueprint("downloads_page", __name__, url_prefix="/telechargements")

MEGA = 1_000_000
#: field -> (French label, help), in the order of the form
FIELDS = (
    (
        "fleet_rate",
        "Débit maximal depuis Internet (Mo/s)",
        "Tous les téléchargements ensemble, pris au registre par le cache du"
        " gestionnaire ; vide : illimité.",
    ),
    (
        "node_rate",
        "Débit maximal vers chaque serveur (Mo/s)",
        "Ce que le cache envoie à un serveur Ollama, sur le réseau local ;"
        " vide : illimité.",
    ),
    (
        "pull_stall_timeout",
        "Relancer un téléchargement bloqué après (secondes)",
        "Sans octet reçu pendant ce délai, le téléchargement est relancé ;"
        " Ollama reprend où il s’était arrêté.",
    ),
    (
        "pull_max_restarts",
        "Relances automatiques au plus",
        "Au-delà, le téléchargement s’arrête en échec (0 : aucune relance).",
    ),
)
LABELS = {name: label for name, label, _ in FIELDS}
RATES = ("fleet_rate", "node_rate")


def shown_values(values: ds.DownloadSettings) -> dict[str, str]:
    """The settings as the form shows them (rates in Mo/s, empty: no cap).

    >>> shown_values(ds.DownloadSettings(fleet_rate=2_500_000))["fleet_rate"]
    '2,5'
    >>> shown_values(ds.DownloadSettings())["node_rate"]
    ''
    """
    data = values.as_dict()
    shown = {name: input_value(data[name]) for name in data}
    for name in RATES:
        rate = data[name]
        shown[name] = "" if rate is None else input_value(float(rate) / MEGA)
    return shown


def form_changes(form: dict[str, str]) -> dict[str, Any]:
    """The form's texts as the settings' values (a text that is no number
    stays a text: the use case refuses it, by its field).

    >>> form_changes({"fleet_rate": "2,5", "node_rate": " ",
    ...     "pull_stall_timeout": "90", "pull_max_restarts": "2"})
    {'fleet_rate': 2500000.0, 'node_rate': None, 'pull_stall_timeout': 90.0, 'pull_max_restarts': 2}
    >>> form_changes({"fleet_rate": "vite"})["fleet_rate"]
    'vite'
    """
    changes: dict[str, Any] = {}
    for name, _, _ in FIELDS:
        if name not in form:
            continue
        text = "".join(form[name].split()).replace(",", ".")
        try:
            if name in RATES:
                changes[name] = float(text) * MEGA if text else None
            elif name == "pull_max_restarts":
                changes[name] = int(text)
            else:
                changes[name] = float(text)
        except ValueError:
            changes[name] = form[name]
    return changes


def _page(
    status: int = 200,
    *,
    message: str | None = None,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
) -> Response:
    services = get_services()
    values = ds.current(services)
    return render_page(
        "downloads.html",
        status,
        shown={**shown_values(values), **(typed or {})},
        fields=FIELDS,
        problems=problems or {},
        use=ds.registry_use(services, values),
        values=values,
        message=message,
        error=error,
    )


@bp.get("")
def show() -> Response:
    return _page()


@bp.post("")
def save() -> Response:
    form = {name: request.form.get(name, "") for name, _, _ in FIELDS}
    try:
        ds.change(get_services(), current_actor(), form_changes(form))
    except InvalidDownloadSettings as exc:
        problems = {
            name: download_expectation(reason, on_form=True)
            for name, reason in exc.problems.items()
        }
        parts = [f"« {LABELS[name]} » : {why}" for name, why in problems.items()]
        return _page(
            400,
            error="Réglages non enregistrés. " + " ; ".join(parts) + ".",
            typed=form,
            problems=problems,
        )
    return _page(
        message="Réglages enregistrés : ils s’appliquent aux téléchargements"
        " lancés à partir de maintenant."
    )
