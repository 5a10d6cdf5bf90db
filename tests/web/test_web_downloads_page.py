"""The « Téléchargements » page and ``/api/downloads/config``: the bandwidth
caps and the pull watchdog's settings, kept in the ``config`` table, read by
every new job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from web_support import inline_code_problems, make_app, parse

from ollama_webmgr.edge.services import get_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.usecases.model_jobs import task_params


@pytest.fixture
def dl_app() -> Iterator[Flask]:
    app = make_app()
    yield app
    with app.app_context():
        get_services().close()


@pytest.fixture
def browser(dl_app: Flask) -> Iterator[FlaskClient]:
    with dl_app.test_client() as client:
        yield client


def _services(app: Flask) -> Services:
    with app.app_context():
        return get_services()


def _form_values(doc: BeautifulSoup) -> dict[str, str]:
    form = doc.find("form", id="downloads-settings")
    assert form is not None
    return {str(f["name"]): str(f.get("value", "")) for f in form.find_all("input")}


def test_the_page_shows_the_environment_defaults_and_no_cap(
    browser: FlaskClient,
) -> None:
    page = browser.get("/telechargements")
    doc = parse(page.data)
    assert page.status_code == 200
    assert doc.find("h1").get_text() == "Téléchargements"
    assert inline_code_problems(doc) == []
    values = _form_values(doc)
    assert (values["fleet_rate"], values["node_rate"]) == ("", "")
    assert (values["pull_stall_timeout"], values["pull_max_restarts"]) == ("60", "3")
    assert "Aucun plafond" in doc.find(attrs={"data-role": "bandwidth-use"}).get_text()
    assert doc.find(id="nav-downloads") is not None


def test_saving_the_form_keeps_the_caps_and_new_jobs_read_them(
    dl_app: Flask, browser: FlaskClient
) -> None:
    values = _form_values(parse(browser.get("/telechargements").data))
    values.update(fleet_rate="2,5", node_rate="", pull_stall_timeout="90")
    values["pull_max_restarts"] = "1"
    answer = browser.post("/telechargements", data=values)
    doc = parse(answer.data)
    assert answer.status_code == 200
    assert "Réglages enregistrés" in doc.find(id="downloads-message").get_text()
    assert _form_values(doc)["fleet_rate"] == "2,5"
    assert (
        "sur 2,5\xa0Mo/s" in doc.find(attrs={"data-role": "bandwidth-use"}).get_text()
    )
    services = _services(dl_app)
    params = task_params(services, services.servers.all()[0], model="x")
    assert (params["pull_stall_timeout"], params["pull_max_restarts"]) == (90.0, 1)
    audit = [a for a in services.db.find("audit") if a["action"] == "downloads.config"]
    assert len(audit) == 1
    # the JSON API says the same, in bytes/s
    config = browser.get("/api/downloads/config").json["config"]
    assert config == {
        "fleet_rate": 2_500_000.0,
        "node_rate": None,
        "pull_stall_timeout": 90.0,
        "pull_max_restarts": 1,
    }


def test_a_bad_cap_in_the_form_is_refused_in_french(
    dl_app: Flask, browser: FlaskClient
) -> None:
    values = _form_values(parse(browser.get("/telechargements").data))
    values.update(fleet_rate="vite", pull_max_restarts="-1")
    answer = browser.post("/telechargements", data=values)
    doc = parse(answer.data)
    assert answer.status_code == 400
    assert doc.find(id="downloads-error").get_text() == (
        "Réglages non enregistrés. « Débit maximal depuis Internet (Mo/s) » : un"
        " débit positif en Mo/s, ou vide (illimité), attendu ; « Relances"
        " automatiques au plus » : un entier positif ou nul attendu."
    )
    field = doc.find("input", attrs={"name": "fleet_rate"})
    assert field["aria-invalid"] == "true"
    assert field["value"] == "vite"  # what the person typed stays
    assert doc.find(id="setting-fleet_rate-error").get_text() == (
        "Un débit positif en Mo/s, ou vide (illimité), attendu."
    )
    zero = browser.post("/telechargements", data={**values, "fleet_rate": "0"})
    assert zero.status_code == 400
    assert _services(dl_app).db.find("config") == []  # nothing was kept


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"fleet_rate": -5}, "fleet_rate"),
        ({"node_rate": "fast"}, "node_rate"),
        ({"pull_stall_timeout": 0}, "pull_stall_timeout"),
        ({"pull_max_restarts": 1.5}, "pull_max_restarts"),
        ({"colour": 1}, "colour"),
    ],
)
def test_the_json_api_refuses_a_bad_value_with_a_json_400(
    browser: FlaskClient, body: dict[str, object], named: str
) -> None:
    answer = browser.put("/api/downloads/config", json=body)
    assert answer.status_code == 400
    error = answer.json["error"]
    assert error["code"] == "invalid_parameter"
    assert f"« {named} »" in error["message"]


def test_the_json_api_sets_and_clears_a_cap(browser: FlaskClient) -> None:
    answer = browser.put("/api/downloads/config", json={"node_rate": 1_000_000})
    assert answer.status_code == 200
    assert answer.json["config"]["node_rate"] == 1_000_000
    assert answer.json["use"] == {"rate": 0, "cap": None, "flows": 0}
    cleared = browser.put("/api/downloads/config", json={"node_rate": None})
    assert cleared.json["config"]["node_rate"] is None
