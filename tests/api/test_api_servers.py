from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import services
from flask import Flask
from flask.testing import FlaskClient

from fleet_support import fleet_settings
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet

CLOSED_PORT_URL = "http://127.0.0.1:9"


def one_node_app(fleet: EmulatedFleet, data_dir: Path) -> Flask:
    """Only node 0 configured: node 1 is there to be added in the UI."""
    return create_app(fleet_settings(fleet, data_dir, ollama_servers=()))


@pytest.fixture
def single(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[FlaskClient]:
    app = one_node_app(fleet, tmp_path)
    with app.test_client() as client:
        yield client
    services(app).close()


def names(client: FlaskClient) -> list[str]:
    return [s["name"] for s in client.get("/api/servers?status=0").json["servers"]]


def test_servers_list_with_status_of_each_node(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    body = client.get("/api/servers").json["servers"]
    assert [s["url"] for s in body] == fleet.urls
    assert body[0]["primary"]
    assert not body[1]["primary"]
    assert all(s["configured"] and s["enabled"] for s in body)
    assert [s["status"]["models"] for s in body] == [2, 1]
    assert all(s["status"]["reachable"] and s["status"]["version"] for s in body)


def test_adding_a_reachable_server_checks_it_and_lists_it(
    fleet: EmulatedFleet, single: FlaskClient
) -> None:
    response = single.post("/api/servers", json={"name": "gpu-2", "url": fleet.urls[1]})
    assert response.status_code == 201
    assert response.json["configured"] is False
    listed = single.get("/api/servers").json["servers"]
    assert [s["name"] for s in listed][1] == "gpu-2"
    assert listed[1]["status"]["reachable"] is True
    assert single.get("/api/running?server=gpu-2").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "x", "url": "ftp://host"}, 400, "Adresse de serveur invalide"),
        ({"name": "x", "url": "http://h:99999"}, 400, "Adresse de serveur invalide"),
        ({"name": "a b", "url": "http://h:1"}, 400, "Nom de serveur invalide"),
        ({"name": "x"}, 400, "Champ « url » manquant"),
        ({"name": "x", "url": CLOSED_PORT_URL}, 502, "Serveur injoignable"),
    ],
)
def test_adding_a_server_refuses_bad_input_in_french(
    single: FlaskClient, body: dict[str, str], status: int, message: str
) -> None:
    response = single.post("/api/servers", json=body)
    assert response.status_code == status
    assert response.json["error"]["message"].startswith(message)
    assert len(names(single)) == 1


def test_duplicate_name_or_address_is_a_409(
    fleet: EmulatedFleet, single: FlaskClient
) -> None:
    primary = names(single)[0]
    same_name = single.post(
        "/api/servers", json={"name": primary, "url": fleet.urls[1]}
    )
    same_url = single.post("/api/servers", json={"name": "bis", "url": fleet.urls[0]})
    assert same_name.status_code == 409
    assert (
        same_name.json["error"]["message"]
        == "Ce nom est déjà utilisé par un autre serveur."
    )
    assert same_url.status_code == 409
    assert "même adresse" in same_url.json["error"]["message"]


def test_rename_disable_and_weight_of_a_configured_server(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    first, second = names(client)
    renamed = client.patch(f"/api/servers/{second}", json={"name": "cpu", "weight": 3})
    assert renamed.status_code == 200
    assert renamed.json["name"] == "cpu"
    assert renamed.json["weight"] == 3
    assert names(client) == [first, "cpu"]  # the order (primary first) is kept
    disabled = client.patch("/api/servers/cpu", json={"enabled": False})
    assert disabled.json["enabled"] is False
    assert client.get("/api/running?server=all").json["errors"] == []
    taken = client.patch("/api/servers/cpu", json={"name": first})
    assert taken.status_code == 409
    last = client.patch(f"/api/servers/{first}", json={"enabled": False})
    assert last.status_code == 409
    assert last.json["error"]["message"] == "Au moins un serveur doit rester actif."


def test_patch_validates_field_types(client: FlaskClient) -> None:
    first = names(client)[0]
    bad_enabled = client.patch(f"/api/servers/{first}", json={"enabled": "non"})
    bad_weight = client.patch(f"/api/servers/{first}", json={"weight": -1})
    unknown = client.patch("/api/servers/nope", json={"enabled": True})
    assert bad_enabled.status_code == 400
    assert "enabled" in bad_enabled.json["error"]["message"]
    assert bad_weight.status_code == 400
    assert unknown.status_code == 404
    assert unknown.json["error"]["message"] == "Serveur inconnu."


def test_a_weight_over_the_bound_is_phrased_with_the_bounds(
    client: FlaskClient,
) -> None:
    first = names(client)[0]
    heavy = client.patch(f"/api/servers/{first}", json={"weight": 5000})
    assert heavy.status_code == 400
    assert heavy.json["error"] == {
        "code": "invalid_parameter",
        "message": "Valeur invalide pour « poids » : un entier de 0 à 1000 attendu.",
    }


def test_configured_servers_cannot_be_removed_but_ui_ones_can(
    fleet: EmulatedFleet, single: FlaskClient
) -> None:
    primary = names(single)[0]
    refused = single.delete(f"/api/servers/{primary}")
    assert refused.status_code == 409
    assert "pas le supprimer" in refused.json["error"]["message"]
    single.post("/api/servers", json={"name": "gpu-2", "url": fleet.urls[1]})
    removed = single.delete("/api/servers/gpu-2")
    assert removed.status_code == 200
    assert names(single) == [primary]
    assert single.delete("/api/servers/gpu-2").status_code == 404


def test_fleet_changes_survive_a_restart(fleet: EmulatedFleet, tmp_path: Path) -> None:
    app = one_node_app(fleet, tmp_path)
    client = app.test_client()
    primary = names(client)[0]
    client.post("/api/servers", json={"name": "gpu-2", "url": fleet.urls[1]})
    client.patch(f"/api/servers/{primary}", json={"name": "main", "weight": 2})
    client.patch("/api/servers/gpu-2", json={"enabled": False})
    services(app).close()

    again = one_node_app(fleet, tmp_path)
    try:
        listed = again.test_client().get("/api/servers?status=0").json["servers"]
    finally:
        services(again).close()
    assert [(s["name"], s["enabled"], s["weight"]) for s in listed] == [
        ("main", True, 2),
        ("gpu-2", False, 1),
    ]
    assert listed[1]["url"] == fleet.urls[1]
    assert listed[1]["configured"] is False


def test_removed_ui_server_stays_removed_after_a_restart(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    app = one_node_app(fleet, tmp_path)
    client = app.test_client()
    client.post("/api/servers", json={"name": "gpu-2", "url": fleet.urls[1]})
    client.delete("/api/servers/gpu-2")
    services(app).close()
    again = one_node_app(fleet, tmp_path)
    try:
        assert len(names(again.test_client())) == 1
    finally:
        services(again).close()


def test_url_test_reports_version_or_a_french_error(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    good = client.post("/api/servers/test", json={"url": fleet.urls[1]})
    bad = client.post("/api/servers/test", json={"url": CLOSED_PORT_URL})
    invalid = client.post("/api/servers/test", json={"url": "http://"})
    assert good.status_code == 200
    assert good.json["reachable"] is True
    assert good.json["version"]
    assert bad.status_code == 502
    assert bad.json["error"]["message"].startswith("Serveur injoignable")
    assert invalid.status_code == 400


def test_server_changes_are_audited(fleet: EmulatedFleet, single: FlaskClient) -> None:
    single.post("/api/servers", json={"name": "gpu-2", "url": fleet.urls[1]})
    single.delete("/api/servers/gpu-2")
    app = single.application
    actions = [doc["action"] for doc in services(app).db.find("audit")]
    assert actions == ["server_add", "server_remove"]
