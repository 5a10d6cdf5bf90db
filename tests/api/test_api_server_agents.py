"""A server's node agent: set through the API and the page, kept, and collected."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import services
from bs4 import BeautifulSoup
from flask.testing import FlaskClient

from fleet_support import fleet_settings
from ollama_webmgr.agent.server import create_server
from ollama_webmgr.cluster.hardware import HardwareCollector, grpc_client_factory
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet


def parse(html: bytes) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def csrf_token_of(client: FlaskClient, path: str) -> str:
    meta = parse(client.get(path).data).find("meta", attrs={"name": "csrf-token"})
    assert meta is not None
    return str(meta["content"])


def _server(client: FlaskClient, name: str) -> dict[str, object]:
    listed = client.get("/api/servers?status=0").json["servers"]
    return next(s for s in listed if s["name"] == name)


def test_agent_address_is_set_kept_across_restarts_and_removed(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    app = create_app(fleet_settings(fleet, tmp_path))
    name = services(app).servers.all()[0].name
    client = app.test_client()
    answer = client.put(f"/api/servers/{name}/agent", json={"agent": " gpu-a:50051 "})
    assert answer.status_code == 200
    assert answer.json["agent"] == "gpu-a:50051"
    services(app).close()

    again = create_app(fleet_settings(fleet, tmp_path))
    client = again.test_client()
    assert _server(client, name)["agent"] == "gpu-a:50051"
    assert (
        client.put(f"/api/servers/{name}/agent", json={"agent": None}).json["agent"]
        is None
    )
    assert _server(client, name)["agent"] is None
    services(again).close()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"agent": "http://gpu-a"}, 400, "Adresse d’agent invalide"),
        ({"agent": "gpu-a:99999"}, 400, "Adresse d’agent invalide"),
        ({"agent": 50051}, 400, "Champ « agent » invalide"),
    ],
)
def test_bad_agent_address_is_a_clear_french_400(
    client: FlaskClient, body: dict[str, object], status: int, message: str
) -> None:
    name = client.get("/api/servers?status=0").json["servers"][0]["name"]
    answer = client.put(f"/api/servers/{name}/agent", json=body)
    assert answer.status_code == status
    assert answer.json["error"]["message"].startswith(message)


def test_agent_of_an_unknown_server_is_a_404(client: FlaskClient) -> None:
    answer = client.put("/api/servers/nope/agent", json={"agent": "a:1"})
    assert answer.status_code == 404


def test_servers_page_sets_the_agent_and_shows_it(client: FlaskClient) -> None:
    name = client.get("/api/servers?status=0").json["servers"][0]["name"]
    token = csrf_token_of(client, "/servers")
    answer = client.post(
        f"/servers/{name}/agent",
        data={"agent": "gpu-a:50051"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert answer.status_code == 200
    doc = parse(client.get("/servers").data)
    card = doc.select_one(f'[data-server="{name}"]')
    assert card.select_one("[data-agent-form] input")["value"] == "gpu-a:50051"
    wrong = client.post(
        f"/servers/{name}/agent",
        data={"agent": "pas une adresse"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    alert = parse(wrong.data).select_one("[data-form-error]")
    assert alert.get_text(strip=True).startswith("Adresse d’agent invalide")


def test_collector_reads_the_agent_given_in_the_api(
    fleet: EmulatedFleet, client: FlaskClient, tmp_path: Path
) -> None:
    agent, port = create_server("127.0.0.1", 0, models_dir=str(tmp_path))
    try:
        name = client.get("/api/servers?status=0").json["servers"][0]["name"]
        client.put(f"/api/servers/{name}/agent", json={"agent": f"127.0.0.1:{port}"})
        db = services(client.application).db
        [collected] = HardwareCollector(db, grpc_client_factory()).run_once()
        assert collected.ok
        [doc] = [d for d in db.find("servers") if d.get("agent_address")]
        assert doc["hardware_info"]["stale"] is False
        assert doc["hardware_info"]["cpu"]
    finally:
        agent.stop(None)


def test_without_an_agent_the_hardware_page_shows_what_ollama_tells(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    import httpx

    loaded = httpx.post(
        fleet.urls[0] + "/api/generate",
        json={"model": "smollm2:135m", "keep_alive": "10m"},
    )
    assert loaded.json()["done_reason"] == "load"
    [running] = httpx.get(fleet.urls[0] + "/api/ps").json()["models"]
    assert running["size_vram"] > 0
    doc = parse(client.get("/materiel").data)
    told = [p.get_text(" ", strip=True) for p in doc.select("[data-ollama-vram]")]
    assert told[0].startswith("Selon Ollama :")
    assert told[0].endswith("de VRAM utilisée par les modèles chargés.")
    assert "Mo" in told[0] or "Go" in told[0]


def test_hardware_shows_right_after_the_agent_is_set_on_the_servers_page(
    fleet: EmulatedFleet, client: FlaskClient, tmp_path: Path
) -> None:
    """No collector round in between: the page asks the new agent at once."""
    agent, port = create_server("127.0.0.1", 0, models_dir=str(tmp_path))
    try:
        name = client.get("/api/servers?status=0").json["servers"][0]["name"]
        answer = client.post(
            f"/servers/{name}/agent",
            data={"agent": f"127.0.0.1:{port}"},
            headers={
                "X-CSRF-Token": csrf_token_of(client, "/servers"),
                "HX-Request": "true",
            },
        )
        assert "Agent 127.0.0.1" in answer.headers["HX-Trigger"]
        doc = parse(client.get(f"/materiel?server={name}").data)
        assert doc.select_one(".no-agent") is None
        figures = doc.select_one("dl").get_text(" ", strip=True)
        assert "Processeur" in figures
        assert "%" in figures
    finally:
        agent.stop(None)


def test_an_agent_that_does_not_answer_is_kept_and_explained(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    from fleet_support import closed_port_url

    silent = closed_port_url().removeprefix("http://")
    name = client.get("/api/servers?status=0").json["servers"][0]["name"]
    answer = client.put(f"/api/servers/{name}/agent", json={"agent": silent})
    assert answer.json["agent"] == silent
    assert answer.json["agent_answered"] is False
    doc = parse(client.get(f"/materiel?server={name}").data)
    waiting = doc.select_one(".agent-waiting").get_text(" ", strip=True)
    assert waiting.startswith(f"Agent {silent} enregistré : il ne répond pas")
    assert "injoignable" in waiting
