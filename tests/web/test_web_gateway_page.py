"""The « Passerelle » page: settings, drain and keys through plain HTML forms."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from web_support import csrf_token_of, inline_code_problems, make_app, parse

from ollama_webmgr.edge.services import get_services
from ollama_webmgr.gateway.auth import hash_api_key
from ollama_webmgr.runtime.services import Services


@pytest.fixture
def gw_app() -> Iterator[Flask]:
    app = make_app()
    yield app
    with app.app_context():
        get_services().close()


@pytest.fixture
def browser(gw_app: Flask) -> Iterator[FlaskClient]:
    with gw_app.test_client() as client:
        yield client


def _services(app: Flask) -> Services:
    with app.app_context():
        return get_services()


def _form_values(doc: BeautifulSoup) -> dict[str, str]:
    """What a browser would send from the settings form as shown."""
    form = doc.find("form", id="gateway-settings")
    assert form is not None
    values = {
        str(field["name"]): str(field.get("value", ""))
        for field in form.find_all("input")
        if field.get("type") != "checkbox"
    }
    for box in form.find_all("input", type="checkbox"):
        if box.has_attr("checked"):
            values[str(box["name"])] = "on"
    select = form.find("select")
    values[str(select["name"])] = str(select.find("option", selected=True)["value"])
    return values


def test_the_page_shows_settings_servers_and_keys_in_french(
    browser: FlaskClient,
) -> None:
    page = browser.get("/passerelle")
    doc = parse(page.data)
    assert page.status_code == 200
    assert doc.find("h1").get_text() == "Passerelle compatible Ollama"
    assert inline_code_problems(doc) == []
    values = _form_values(doc)
    assert (values["strategy"], values["max_attempts"]) == ("least_in_flight", "3")
    names = [li.find("p").get_text() for li in doc.select("#gateway-servers li")]
    assert names == ["localhost:11434", "gpu-a:11434", "192.168.1.20:11434"]
    loaded = [p.get_text() for p in doc.select("#gateway-servers [data-loaded]")]
    assert loaded == ["Aucun modèle chargé"] * 3


def test_the_page_names_the_models_loaded_on_each_server(
    gw_app: Flask, browser: FlaskClient
) -> None:
    models = _services(gw_app).gateway.app.models
    models.update("gpu-a:11434", running=[{"name": "llama3.2:latest"}])
    doc = parse(browser.get("/passerelle").data)
    loaded = [p.get_text() for p in doc.select("#gateway-servers [data-loaded]")]
    assert loaded[1] == "Chargé : llama3.2:latest"
    assert "Aucune clé" in doc.get_text()


def test_saving_settings_applies_them_at_once(
    gw_app: Flask, browser: FlaskClient
) -> None:
    values = _form_values(parse(browser.get("/passerelle").data))
    values.update(strategy="weighted", max_attempts="2", queue_timeout="12,5")
    values["sticky"] = "on"
    answer = browser.post("/passerelle/config", data=values)
    doc = parse(answer.data)
    config = _services(gw_app).gateway.app.config
    assert answer.status_code == 200
    assert "Réglages enregistrés" in doc.find(id="gateway-message").get_text()
    assert (config.strategy, config.max_attempts, config.sticky) == (
        "weighted",
        2,
        True,
    )
    assert config.queue_timeout == 12.5
    assert _form_values(doc)["strategy"] == "weighted"


def test_a_bad_setting_is_refused_with_a_french_message(
    gw_app: Flask, browser: FlaskClient
) -> None:
    values = _form_values(parse(browser.get("/passerelle").data))
    values.update(strategy="weighted", max_attempts="zéro", queue_timeout="-2")
    answer = browser.post("/passerelle/config", data=values)
    doc = parse(answer.data)
    error = doc.find(id="gateway-error").get_text()
    assert answer.status_code == 400
    assert error == (
        "Réglages non enregistrés (2 à corriger). « Serveurs essayés avant"
        " d’abandonner » : un entier supérieur ou égal à 1 attendu ; « Attente"
        " maximale d’une place (en secondes) » : un nombre de secondes positif attendu."
    )
    # each field says what it expects, and keeps what the person typed
    field = doc.find("input", attrs={"name": "max_attempts"})
    assert field["aria-invalid"] == "true"
    assert field["value"] == "zéro"
    described = doc.find(id=field["aria-describedby"]).get_text()
    assert described == "Un entier supérieur ou égal à 1 attendu."
    assert _form_values(doc)["strategy"] == "weighted"
    assert _services(gw_app).gateway.app.config.strategy == "least_in_flight"


def test_no_setting_error_names_an_internal_key(browser: FlaskClient) -> None:
    """Whatever field is wrong, the page speaks of it by its label."""
    shown = _form_values(parse(browser.get("/passerelle").data))
    for name in [n for n in shown if n not in ("csrf_token", "sticky")]:
        values = {**shown, name: "n’importe quoi" if name != "origins" else "x"}
        doc = parse(browser.post("/passerelle/config", data=values).data)
        error = doc.find(id="gateway-error").get_text()
        assert name not in error, error
        assert "least_in_flight" not in error
        label = doc.find("label", attrs={"for": f"setting-{name}"})
        if label is not None:
            assert label.get_text(strip=True)[:20] in error


def test_forms_without_the_csrf_token_are_refused(browser: FlaskClient) -> None:
    answer = browser.post("/passerelle/drain", data={"server": "gpu-a:11434"})
    assert answer.status_code == 403


def test_a_server_is_drained_and_put_back_from_the_page(
    gw_app: Flask, browser: FlaskClient
) -> None:
    token = csrf_token_of(browser, "/passerelle")
    drained = browser.post(
        "/passerelle/drain",
        data={"csrf_token": token, "server": "gpu-a:11434", "draining": "1"},
    )
    registry = _services(gw_app).servers
    assert registry.get("gpu-a:11434").draining
    assert "celles en cours se terminent" in parse(drained.data).get_text()
    browser.post(
        "/passerelle/drain",
        data={"csrf_token": token, "server": "gpu-a:11434", "draining": "0"},
    )
    assert not registry.get("gpu-a:11434").draining


def test_a_key_is_shown_once_and_only_its_hash_is_kept(
    gw_app: Flask, browser: FlaskClient
) -> None:
    token = csrf_token_of(browser, "/passerelle")
    created = parse(
        browser.post("/passerelle/keys", data={"csrf_token": token, "label": "ci"}).data
    )
    key = created.select_one("#new-key output").get_text()
    later = browser.get("/passerelle").get_data(as_text=True)
    services = _services(gw_app)
    assert services.gateway.app.config.api_key_hashes == {hash_api_key(key)}
    stored = json.dumps(services.db.find("config"))
    assert hash_api_key(key) in stored
    assert key not in stored
    assert key not in later
    assert key[:8] in later
    delete = parse(later).select_one("#gateway-keys form")["action"]
    browser.post(str(delete), data={"csrf_token": token})
    assert services.gateway.app.config.api_key_hashes == frozenset()


def test_cors_origins_are_edited_on_the_page(
    gw_app: Flask, browser: FlaskClient
) -> None:
    values = _form_values(parse(browser.get("/passerelle").data))
    assert values["origins"] == ""
    values["origins"] = "https://chat.exemple.fr, https://*.exemple.org"
    answer = browser.post("/passerelle/config", data=values)
    config = _services(gw_app).gateway.app.config
    assert answer.status_code == 200
    assert config.origins == ("https://chat.exemple.fr", "https://*.exemple.org")
    shown = _form_values(parse(answer.data))["origins"]
    assert shown == "https://chat.exemple.fr, https://*.exemple.org"
    values["origins"] = "chat.exemple.fr"
    refused = browser.post("/passerelle/config", data=values)
    assert refused.status_code == 400
    error = parse(refused.data).find(id="gateway-error").get_text()
    assert error.startswith(
        "Réglage non enregistré. « Origines web autorisées (CORS) » : des origines"
    )
    assert config.origins == ("https://chat.exemple.fr", "https://*.exemple.org")
