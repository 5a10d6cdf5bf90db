from __future__ import annotations

import time

from api_support import SMALL, load, loaded, server_names, services, wait_job
from flask import Flask
from flask.testing import FlaskClient

from ollama_webmgr.sim.fleet import EmulatedFleet
from ollama_webmgr.store.database import Where


def test_running_lists_the_primary_by_default_and_every_server_with_all(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    load(fleet, 0)
    load(fleet, 1, keep=-1)
    first, second = server_names(fleet)

    primary = client.get("/api/running").json
    everywhere = client.get("/api/running?server=all").json
    only_second = client.get(f"/api/running?server={second}").json

    assert [(m["name"], m["server"]) for m in primary["models"]] == [(SMALL, first)]
    assert sorted(m["server"] for m in everywhere["models"]) == sorted([first, second])
    model = only_second["models"][0]
    assert model["expires"] == "permanent"
    assert model["gpu_share"] == "100 % GPU"
    assert model["size"] == model["size_vram"] > 0
    assert model["context_length"] > 0
    assert everywhere["errors"] == []


def test_running_reports_a_dead_server_without_failing_the_others(
    fleet: EmulatedFleet, client: FlaskClient, app: Flask
) -> None:
    from ollama_webmgr.cluster.servers import Server

    services(app).servers.add(Server("dead", "http://127.0.0.1:9"))
    load(fleet, 0)
    started = time.monotonic()
    body = client.get("/api/running?server=all").json
    assert time.monotonic() - started < 3
    assert len(body["models"]) == 1
    assert body["errors"][0]["server"] == "dead"
    assert body["errors"][0]["message"] == "Serveur Ollama injoignable."


def test_running_of_an_unknown_server_is_a_clear_404(client: FlaskClient) -> None:
    response = client.get("/api/running?server=nope")
    assert response.status_code == 404
    assert response.json["error"]["message"] == "Serveur inconnu."


def test_soft_eject_removes_the_model_from_ps_and_is_audited(
    fleet: EmulatedFleet, client: FlaskClient, app: Flask
) -> None:
    load(fleet, 1)
    second = server_names(fleet)[1]
    response = client.post(
        "/api/eject", json={"name": "smollm2:135m", "server": second}
    )
    assert response.status_code == 200
    assert response.json == {"name": SMALL, "server": second, "ejected": True}
    assert loaded(fleet, 1) == []
    audit = services(app).db.find("audit", [Where("action", "==", "eject")])
    assert audit[0]["target"] == SMALL
    assert audit[0]["details"]["server"] == second


def test_eject_refuses_bad_input_with_french_messages(client: FlaskClient) -> None:
    no_name = client.post("/api/eject", json={"server": "x"})
    bad_name = client.post("/api/eject", json={"name": "bad name!!"})
    not_json = client.post("/api/eject", data="name=x", content_type="application/json")
    unknown = client.post("/api/eject", json={"name": SMALL, "server": "nope"})
    assert no_name.status_code == 400
    assert no_name.json["error"]["message"] == "Champ « name » manquant ou vide."
    assert bad_name.status_code == 400
    assert bad_name.json["error"]["message"] == "Nom de modèle invalide."
    assert not_json.status_code == 400
    assert "objet JSON" in not_json.json["error"]["message"]
    assert unknown.status_code == 404


def test_eject_of_a_model_not_installed_is_a_404(client: FlaskClient) -> None:
    response = client.post("/api/eject", json={"name": "llama3.2:1b"})
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_forced_eject_job_ends_done_with_the_model_gone_within_5_s(
    fleet: EmulatedFleet, client: FlaskClient, app: Flask
) -> None:
    load(fleet, 0)
    started = time.monotonic()
    response = client.post("/api/eject/force", json={"name": SMALL})
    assert response.status_code == 202
    job = wait_job(services(app).runner, response.json["job_id"])
    assert time.monotonic() - started < 5
    assert job.state == "done", job.error
    assert job.result["attempts"] == 1
    assert loaded(fleet, 0) == []


def test_forced_eject_repeats_when_the_node_drops_the_first_unload(
    fleet: EmulatedFleet, client: FlaskClient, app: Flask
) -> None:
    load(fleet, 0)
    fleet.nodes[0].state.faults.update({"fail_next": 1})  # the unload answers 500
    started = time.monotonic()
    response = client.post("/api/eject/force", json={"name": SMALL})
    job = wait_job(services(app).runner, response.json["job_id"])
    assert time.monotonic() - started < 5
    assert job.state == "done", job.error
    assert job.result["attempts"] == 2
    assert loaded(fleet, 0) == []
