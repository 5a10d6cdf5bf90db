"""The reusable parts of the shell: macros, filters and HTMX helpers."""

from __future__ import annotations

import json

from flask import Flask, Response, redirect, render_template_string
from flask.testing import FlaskClient
from web_support import inline_code_problems, parse

from ollama_webmgr.web.htmx import hx_trigger, render_page, toast


def _render(app: Flask, source: str) -> str:
    with app.test_request_context("/"):
        return render_template_string(source)


def test_size_filter_formats_bytes_the_french_way(app: Flask) -> None:
    assert _render(app, "{{ 4683087332 | size }} / {{ 815319791 | size }}") == (
        "4,7\u00a0Go / 815\u00a0Mo"
    )


def test_every_french_formatting_filter_is_registered(app: Flask) -> None:
    source = (
        "{{ 131072 | number(0) }}|{{ '3.3M' | count }}|{{ '3.2B' | parameters }}|"
        "{{ 3 | plural('modèle') }}|{{ '5 months ago' | relative }}|"
        "{{ 'vision' | capability }}|{{ 'Text' | input_kind }}|"
        "{{ 'queued' | job_state }}|{{ 'pulling 8227d622a37b' | job_status }}"
    )
    assert _render(app, source).split("|") == [
        "131\u202f072",
        "3,3\u00a0M",
        "3,2\u00a0Md",
        "3 modèles",
        "il y a 5 mois",
        "images",
        "texte",
        "en attente",
        "téléchargement de la couche 8227d622a37b",
    ]


def test_progress_bar_macro_is_an_accessible_native_progress(app: Flask) -> None:
    html = _render(
        app,
        '{% import "_macros.html" as ui %}'
        '{{ ui.progress_bar("pull-1", "Téléchargement", value=30, max=200) }}',
    )
    doc = parse(html)
    bar = doc.find("progress", id="pull-1")
    assert bar["value"] == "30"
    assert bar["max"] == "200"
    assert doc.find("label", attrs={"for": "pull-1"}).get_text() == "Téléchargement"
    assert doc.find(id="pull-1-text").get_text(strip=True) == "15 %"
    assert inline_code_problems(doc) == []


def test_progress_bar_without_value_is_indeterminate(app: Flask) -> None:
    html = _render(
        app, '{% import "_macros.html" as ui %}{{ ui.progress_bar("p", "Attente") }}'
    )
    assert not parse(html).find("progress").has_attr("value")


def test_bottom_sheet_macro_is_a_popover_opened_by_its_button(app: Flask) -> None:
    html = _render(
        app,
        '{% import "_macros.html" as ui %}'
        '{% call ui.bottom_sheet("actions-llama", "Actions sur llama3.2") %}'
        '<button type="button">Supprimer</button>{% endcall %}',
    )
    doc = parse(html)
    panel = doc.find(id="actions-llama")
    assert panel.has_attr("popover")
    button = doc.find("button", attrs={"popovertarget": "actions-llama"})
    assert button.get_text(strip=True) == "Actions"
    assert button["aria-controls"] == "actions-llama"
    assert panel["role"] == "dialog"
    assert panel["aria-label"] == "Actions sur llama3.2"
    assert panel.find("button", string="Supprimer") is not None
    assert inline_code_problems(doc) == []


def test_shell_includes_the_shared_confirmation_dialog(client: FlaskClient) -> None:
    doc = parse(client.get("/").data)
    dialog = doc.find(attrs={"x-data": "confirmDialog"}).find("dialog")
    assert dialog["aria-labelledby"] == "confirm-title"
    buttons = [b.get_text(strip=True) for b in dialog.find_all("button")]
    assert buttons == ["Annuler", "Confirmer"]


def test_redirect_answered_to_htmx_becomes_hx_redirect(app: Flask) -> None:
    @app.get("/test/moved")
    def moved() -> Response:
        return redirect("/")  # type: ignore[return-value]

    client = app.test_client()
    plain = client.get("/test/moved")
    assert plain.status_code == 302
    htmx = client.get("/test/moved", headers={"HX-Request": "true"})
    assert htmx.status_code == 200
    assert htmx.headers["HX-Redirect"] == "/"
    assert "Location" not in htmx.headers
    assert htmx.data == b""


def test_hx_trigger_merges_events_into_one_ascii_header(app: Flask) -> None:
    with app.test_request_context("/"):
        response = hx_trigger(Response(), "models-changed")
        toast(response, "Modèle supprimé", "success")
    events = json.loads(response.headers["HX-Trigger"])
    assert events == {
        "models-changed": None,
        "toast": {"message": "Modèle supprimé", "level": "success"},
    }
    assert response.headers["HX-Trigger"].isascii()


def test_boosted_navigation_gets_the_full_page(app: Flask) -> None:
    with app.test_request_context(
        "/", headers={"HX-Request": "true", "HX-Boosted": "true"}
    ):
        response = render_page("dashboard.html", servers=())
    assert parse(response.get_data()).find("nav") is not None


def test_health_is_not_cached_and_reports_the_store(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json["checks"]["store"]["ok"] is True
    assert response.json["agents"] == {}
    assert response.cache_control.no_store


def test_get_db_is_the_apps_one_store(app: Flask) -> None:
    from ollama_webmgr.edge.database import get_db
    from ollama_webmgr.edge.services import EXTENSION_KEY

    with app.app_context():
        assert get_db() is app.extensions[EXTENSION_KEY].db
