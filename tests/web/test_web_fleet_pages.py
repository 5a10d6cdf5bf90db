"""Pages of the running / search / servers / dashboard verticals over a fleet."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from web_support import csrf_token_of, inline_code_problems, parse

from fleet_support import SMALL_MODELS, fleet_settings
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.edge.services import EXTENSION_KEY
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet

SMALL = SMALL_MODELS[0]


@pytest.fixture(scope="module")
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([SMALL_MODELS, SMALL_MODELS[:1]]) as emulated:
        yield emulated


@pytest.fixture
def fleet_app(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(fleet_settings(fleet, tmp_path))
    yield app
    services_of(app).close()
    for node in fleet.nodes:
        node.state.reset()


@pytest.fixture
def web(fleet_app: Flask) -> Iterator[FlaskClient]:
    with fleet_app.test_client() as client:
        yield client


def services_of(app: Flask) -> Services:
    found = app.extensions[EXTENSION_KEY]
    assert isinstance(found, Services)
    return found


def wait_for_probes(limit: float = 5.0) -> None:
    """Wait until no status-read thread (``manager/probe.py``) is still running."""
    end = time.monotonic() + limit
    while any(t.name.startswith("probe") for t in threading.enumerate()):
        assert time.monotonic() < end, "a probe thread is still running"
        time.sleep(0.02)


def load(url: str, keep: float | str = "5m") -> None:
    with OllamaClient(url) as client:
        client.load(SMALL, keep_alive=keep)


def page(client: FlaskClient, path: str) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == 200, response.data[:300]
    doc = parse(response.data)
    assert inline_code_problems(doc) == []
    return doc


def toast_of(response: object) -> dict[str, str]:
    header = response.headers["HX-Trigger"]  # type: ignore[attr-defined]
    return dict(json.loads(header)["toast"])


# -- running -------------------------------------------------------------


def test_running_page_shows_cards_and_a_table_with_french_labels(
    fleet: EmulatedFleet, web: FlaskClient
) -> None:
    load(fleet.urls[0], keep=-1)
    doc = page(web, "/running")
    assert doc.find("h1").get_text() == "Modèles en cours d’exécution"
    poller = doc.select_one("#running")
    assert poller["hx-get"] == "/running/table"
    assert poller["hx-trigger"] == "every 5s"
    cards = doc.select("[data-running-cards] li")
    rows = doc.select("[data-running-table] tbody tr")
    assert len(cards) == len(rows) == 1
    assert "sm:hidden" in doc.select_one("[data-running-cards]")["class"]
    headers = [th.get_text() for th in doc.select("[data-running-table] th")]
    assert headers == [
        "Modèle",
        "Serveur",
        "Taille",
        "Mémoire",
        "Contexte (jetons)",
        "Expiration",
        "Actions",
    ]
    cells = [td.get_text(strip=True) for td in rows[0].find_all("td")]
    assert cells[0] == SMALL
    assert cells[3] == "100 % GPU"
    assert cells[5] == "permanent"
    buttons = [b.get_text(strip=True) for b in rows[0].find_all("button")]
    assert buttons == ["Éjecter", "Forcer"]
    force = rows[0].select_one("[data-force-eject]")
    assert force["data-name"] == SMALL
    assert force.has_attr("data-network-action")  # disabled offline
    assert any("running." in s["src"] for s in doc.find_all("script"))


def test_running_page_says_expiry_in_minutes_and_when_nothing_runs(
    fleet: EmulatedFleet, web: FlaskClient
) -> None:
    assert page(web, "/running").select_one("#running-empty") is not None
    load(fleet.urls[1], keep="5m")
    fragment = parse(web.get("/running/table").data)
    assert fragment.find("html") is None
    texts = [td.get_text(strip=True) for td in fragment.select("tbody td")]
    assert texts[5] in ("expire dans 5 min", "expire dans 4 min")


def test_eject_button_unloads_and_returns_the_fresh_table(
    fleet: EmulatedFleet, web: FlaskClient
) -> None:
    load(fleet.urls[0])
    token = csrf_token_of(web, "/running")
    server = fleet.urls[0].removeprefix("http://")
    response = web.post(
        "/running/eject",
        data={"name": SMALL, "server": server},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert parse(response.data).select_one("#running-empty") is not None
    assert toast_of(response)["message"] == f"{SMALL} éjecté de {server}."
    with OllamaClient(fleet.urls[0]) as client:
        assert client.ps() == []


def test_eject_form_without_csrf_token_is_refused(web: FlaskClient) -> None:
    assert web.post("/running/eject", data={"name": SMALL}).status_code == 403


# -- search --------------------------------------------------------------


def test_search_page_has_a_debounced_box_chips_and_result_cards(
    web: FlaskClient,
) -> None:
    doc = page(web, "/search?q=smollm2")
    box = doc.select_one("#search-q")
    assert box["hx-get"] == "/search/results"
    assert box["hx-trigger"] == "input changed delay:400ms, search"
    assert box["hx-include"] == "#search-form"
    form = doc.select_one("#search-form")
    assert form["hx-trigger"] == (
        "submit, change from:.chip-input, change from:#search-server"
    )
    chips = [label.get_text(strip=True) for label in doc.select("label.chip")]
    assert chips == ["Tous", "Outils", "Images", "Raisonnement", "Vectorisation"]
    card = doc.select_one("[data-remote-model='smollm2']")
    assert card is not None
    button = card.find("button")
    assert button.get_text(strip=True) == "Voir les variantes"
    assert button["hx-get"].startswith("/search/variants?model=smollm2")


def test_variants_fragment_marks_installed_latest_and_offers_downloads(
    fleet: EmulatedFleet, web: FlaskClient
) -> None:
    server = fleet.urls[0].removeprefix("http://")
    doc = parse(web.get(f"/search/variants?model=smollm2&server={server}").data)
    assert inline_code_problems(doc) == []
    mine = doc.select_one(f"[data-variant='{SMALL}']")
    assert mine.select_one("[data-status]")["data-status"] == "up-to-date"
    assert "installé, à jour" in mine.get_text()
    pulls = mine.select("form:has([data-pull-for])")
    targets = [f.select_one("input[name=server], input[name=servers]") for f in pulls]
    assert [t["value"] for t in targets] == [server, "all"]
    assert all(f["hx-post"] == "/models/-/pull" for f in pulls)
    assert pulls[1].button.get_text(strip=True) == "Télécharger sur tous"
    assert any("par défaut" in li.get_text() for li in doc.select("[data-variant]"))


def test_search_fragment_says_unavailable_when_the_site_is_down(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    app = create_app(fleet_settings(fleet, tmp_path, library_url="http://127.0.0.1:9"))
    try:
        client = app.test_client()
        doc = page(client, "/search?q=qwen")
        fragment = parse(client.get("/search/results?q=qwen").data)
    finally:
        services_of(app).close()
    for found in (doc, fragment):
        box = found.select_one("[data-search-unavailable]")
        assert box is not None
        assert "Recherche indisponible" in box.get_text()


# -- servers -------------------------------------------------------------


def test_servers_page_lists_status_and_forms_in_french(
    fleet: EmulatedFleet, web: FlaskClient
) -> None:
    doc = page(web, "/servers")
    items = doc.select("[data-servers] > li")
    assert len(items) == 2
    assert all(i.select_one("[data-state]").get_text() == "joignable" for i in items)
    assert "Version" in items[0].get_text()
    # Configured servers: rename, set an agent and disable, no removal.
    assert [b.get_text(strip=True) for b in items[0].find_all("button")] == [
        "Renommer",
        "Enregistrer l’agent",
        "Désactiver",
    ]
    add = doc.select_one("[data-add-server]")
    assert add["hx-post"] == "/servers/add"
    assert [i["name"] for i in add.find_all("input")] == ["name", "url"]


def test_adding_an_unreachable_server_shows_the_french_reason(
    web: FlaskClient,
) -> None:
    token = csrf_token_of(web, "/servers")
    response = web.post(
        "/servers/add",
        data={"name": "mort", "url": "http://127.0.0.1:9"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    doc = parse(response.data)
    assert (
        doc.select_one("[data-form-error]").get_text().startswith("Serveur injoignable")
    )
    assert toast_of(response)["level"] == "error"
    assert len(doc.select("[data-servers] > li")) == 2


def test_ui_server_can_be_added_then_removed_after_confirmation(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    app = create_app(fleet_settings(fleet, tmp_path, ollama_servers=()))
    try:
        client = app.test_client()
        token = csrf_token_of(client, "/servers")
        headers = {"X-CSRF-Token": token, "HX-Request": "true"}
        added = client.post(
            "/servers/add",
            data={"name": "gpu-2", "url": fleet.urls[1]},
            headers=headers,
        )
        item = parse(added.data).select_one("[data-server='gpu-2']")
        delete = item.select_one("form[hx-post$='/delete']")
        assert delete["hx-confirm"] == "Supprimer le serveur gpu-2 de la liste ?"
        disable = item.select_one("form[hx-post$='/toggle']")
        assert disable["hx-confirm"].startswith("Désactiver le serveur gpu-2 ?")
        removed = client.post("/servers/gpu-2/delete", headers=headers)
        assert parse(removed.data).select_one("[data-server='gpu-2']") is None
        assert toast_of(removed)["message"] == "Serveur gpu-2 supprimé."
    finally:
        services_of(app).close()


def test_server_selectors_skip_disabled_servers(
    fleet: EmulatedFleet, web: FlaskClient, fleet_app: Flask
) -> None:
    first, second = (s.name for s in services_of(fleet_app).servers.all())
    token = csrf_token_of(web, "/servers")
    toggled = web.post(
        f"/servers/{second}/toggle",
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert toast_of(toggled)["message"] == f"Serveur {second} désactivé."
    options = [o["value"] for o in page(web, "/models").select("#models-server option")]
    assert options == [first, "all"]
    servers_page = page(web, "/servers")
    assert servers_page.select_one(f"[data-server='{second}'] [data-disabled]")


# -- dashboard -----------------------------------------------------------


def test_dashboard_summarises_the_fleet_and_marks_a_dead_server(
    fleet: EmulatedFleet, web: FlaskClient, fleet_app: Flask
) -> None:
    services_of(fleet_app).servers.add(Server("mort", "http://127.0.0.1:9"))
    load(fleet.urls[0])
    started = time.monotonic()
    doc = page(web, "/")
    assert time.monotonic() - started < 3
    assert doc.select_one("[data-summary-servers]").get_text(strip=True) == "2 / 3"
    assert doc.select_one("[data-summary-models]").get_text(strip=True) == "3"
    assert doc.select_one("[data-summary-running]").get_text(strip=True) == "1"
    assert doc.select_one("[data-summary-disk]").get_text(strip=True).endswith("o")
    dead = doc.select_one("[data-server='mort'] [data-state]")
    assert dead.get_text() == "injoignable"
    running = doc.select("[data-dashboard-running] li")
    assert SMALL in running[0].get_text()
    assert "Aucune tâche en cours." in doc.get_text()
    links = [a["href"] for a in doc.select("[data-quick-links] a")]
    assert links == ["/models", "/search", "/running", "/servers"]


def test_dashboard_shows_active_jobs_with_a_progress_bar(
    web: FlaskClient, fleet_app: Flask
) -> None:
    # A node that accepts connections and never answers keeps the job running.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        job = services_of(fleet_app).runner.submit(
            "eject_force", {"server_url": url, "model": SMALL, "timeout": 2}
        )
        doc = page(web, "/")
    item = doc.select_one(f"[data-job-id='{job.id}']")
    assert item is not None
    assert item.find("progress") is not None
    assert f"Éjection forcée de {SMALL}" in item.get_text()


def test_dashboard_does_not_wait_for_a_server_that_never_answers(
    web: FlaskClient, fleet_app: Flask
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        services_of(fleet_app).servers.add(Server("muet", url))
        started = time.monotonic()
        doc = page(web, "/")
        elapsed = time.monotonic() - started
        # Let the late read end now, before the app's clients are closed.
        connection, _ = silent.accept()
        connection.close()
        wait_for_probes()
    assert elapsed < 2.8
    assert (
        doc.select_one("[data-server='muet'] [data-state]").get_text() == "injoignable"
    )
    assert doc.select_one("[data-summary-servers]").get_text(strip=True) == "2 / 3"
