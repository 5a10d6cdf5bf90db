"""``/api/models``: listings, fleet view, show, delete, copy and bad input."""

from __future__ import annotations

import json

import httpx
import pytest
from flask.testing import FlaskClient
from models_api_support import model_names, post, wait_finished

from fleet_support import fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet


def test_listing_defaults_to_the_primary_and_is_served_from_cache(
    client: FlaskClient, names: list[str], fleet: EmulatedFleet
) -> None:
    first = client.get("/api/models")
    assert first.status_code == 200
    body = first.json
    assert body["server"]["name"] == names[0]
    assert body["cached"] is False
    assert sorted(m["name"] for m in body["models"]) == [
        "all-minilm:latest",
        "smollm2:135m",
    ]
    model = body["models"][0]
    assert len(model["digest"]) == 64
    assert model["short_id"] == model["digest"][:12]
    assert model["modified_at"]
    assert model["size"] > 0
    assert client.get("/api/models").json["cached"] is True
    assert client.get("/api/models?refresh=1").json["cached"] is False


def test_fleet_view_groups_copies_and_flags_version_drift(
    client: FlaskClient, names: list[str], fleet: EmulatedFleet
) -> None:
    body = client.get("/api/models?server=all").json
    smollm = next(m for m in body["models"] if m["name"] == "smollm2:135m")
    assert set(smollm["servers"]) == set(names)
    assert smollm["drift"] is False
    fleet.registry.publish_update("smollm2:135m")
    pulled = post(client, "/api/models/pull", {"name": "smollm2:135m"})
    assert pulled.status_code == 202
    services = client.application.extensions["ollama_webmgr"]
    wait_finished(services, pulled.json["job_id"])
    body = client.get("/api/models?server=all").json
    smollm = next(m for m in body["models"] if m["name"] == "smollm2:135m")
    assert smollm["drift"] is True
    digests = {copy["digest"] for copy in smollm["servers"].values()}
    assert len(digests) == 2
    only_a = next(m for m in body["models"] if m["name"] == "all-minilm:latest")
    assert list(only_a["servers"]) == [names[0]]


def test_fleet_view_reports_an_unreachable_server_without_failing(
    client: FlaskClient, names: list[str], fleet: EmulatedFleet
) -> None:
    fleet.nodes[1].server.stop()
    body = client.get("/api/models?server=all&refresh=1").json
    assert body["errors"][names[1]]["code"] == "ollama_unreachable"
    assert {m["name"] for m in body["models"]} == {"smollm2:135m", "all-minilm:latest"}


def test_show_returns_details_template_and_capabilities(
    client: FlaskClient, names: list[str]
) -> None:
    answer = post(
        client, "/api/models/show", {"name": "smollm2:135m", "server": names[1]}
    )
    assert answer.status_code == 200
    body = answer.json
    assert body["details"]["parameter_size"] == "134.52M"
    assert "completion" in body["capabilities"]
    assert body["template"]


def test_delete_removes_the_model_and_invalidates_the_cache(
    client: FlaskClient, names: list[str]
) -> None:
    assert "all-minilm:latest" in model_names(client, names[0], refresh=False)
    answer = client.delete(f"/api/models/all-minilm:latest?server={names[0]}")
    assert answer.status_code == 200
    assert answer.json == {
        "deleted": "all-minilm:latest",
        "server": names[0],
        "unloaded": None,  # it was not loaded
    }
    listing = client.get(f"/api/models?server={names[0]}").json
    assert listing["cached"] is False
    assert "all-minilm:latest" not in [m["name"] for m in listing["models"]]


def test_deleting_a_loaded_model_unloads_it_first(
    client: FlaskClient, names: list[str], fleet: EmulatedFleet
) -> None:
    loaded = httpx.post(
        fleet.urls[1] + "/api/generate",
        json={"model": "smollm2:135m", "keep_alive": -1},
    )
    assert loaded.json()["done_reason"] == "load"
    running = client.get(f"/api/running?server={names[1]}").json
    assert "smollm2:135m" in json.dumps(running)
    answer = client.delete(f"/api/models/smollm2:135m?server={names[1]}")
    assert answer.status_code == 200
    assert answer.json["unloaded"] is True
    # Nothing is left in memory that nobody could unload any more.
    assert httpx.get(fleet.urls[1] + "/api/ps").json()["models"] == []
    assert "smollm2:135m" not in json.dumps(client.get("/api/running").json)


def test_copy_refuses_a_name_already_taken_unless_told_to_overwrite(
    client: FlaskClient, names: list[str]
) -> None:
    body = {"source": "smollm2:135m", "dest": "all-minilm:latest", "server": names[0]}
    refused = post(client, "/api/models/copy", body)
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "model_name_taken"
    assert refused.json["error"]["message"].startswith("Un modèle porte déjà ce nom")
    listing = client.get(f"/api/models?server={names[0]}&refresh=1").json["models"]
    digests = {m["name"]: m["digest"] for m in listing}
    assert digests["all-minilm:latest"] != digests["smollm2:135m"]
    assert (
        post(client, "/api/models/copy", {**body, "overwrite": True}).status_code == 200
    )
    listing = client.get(f"/api/models?server={names[0]}&refresh=1").json["models"]
    digests = {m["name"]: m["digest"] for m in listing}
    assert digests["all-minilm:latest"] == digests["smollm2:135m"]


def test_delete_accepts_names_with_a_namespace(
    client: FlaskClient, names: list[str]
) -> None:
    assert (
        post(
            client,
            "/api/models/copy",
            {"source": "smollm2:135m", "dest": "me/tiny:v1", "server": names[1]},
        ).status_code
        == 200
    )
    assert "me/tiny:v1" in model_names(client, names[1], refresh=False)
    answer = client.delete(f"/api/models/me/tiny:v1?server={names[1]}")
    assert answer.status_code == 200
    assert "me/tiny:v1" not in model_names(client, names[1], refresh=False)


def test_copy_creates_a_tag_with_the_same_digest_and_records_audit(
    client: FlaskClient, names: list[str], services: Services
) -> None:
    before = client.get("/api/models").json  # fills the cache
    answer = post(
        client, "/api/models/copy", {"source": "smollm2:135m", "dest": "smollm2:mine"}
    )
    assert answer.status_code == 200
    after = client.get("/api/models").json
    assert after["cached"] is False
    by_name = {m["name"]: m["digest"] for m in after["models"]}
    assert by_name["smollm2:mine"] == by_name["smollm2:135m"]
    assert len(after["models"]) == len(before["models"]) + 1
    actions = [doc["action"] for doc in services.db.find("audit", [])]
    assert "model.copy" in actions


def test_delete_of_a_missing_model_is_404_in_french(
    client: FlaskClient, names: list[str]
) -> None:
    answer = client.delete(f"/api/models/nope:1b?server={names[1]}")
    assert answer.status_code == 404
    assert answer.json["error"]["code"] == "not_found"
    assert (
        answer.json["error"]["message"] == "Modèle introuvable sur le serveur Ollama."
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/api/models?server=ghost", None, 404, "unknown_server"),
        ("POST", "/api/models/show", {"name": "bad name!"}, 400, "invalid_model_name"),
        ("POST", "/api/models/show", {}, 400, "invalid_model_name"),
        ("POST", "/api/models/show", {"name": "x", "server": "ghost"}, 404, None),
        ("POST", "/api/models/pull", {"name": "a@b"}, 400, "invalid_model_name"),
        ("POST", "/api/models/pull", {"name": "x", "servers": ["ghost"]}, 404, None),
        ("POST", "/api/models/pull", {"name": "x", "servers": 5}, 404, None),
        ("POST", "/api/models/copy", {"source": "a", "dest": "b c"}, 400, None),
        ("POST", "/api/models/check_update", {"name": "::"}, 400, None),
        ("POST", "/api/models/check_update", {"server": "ghost"}, 404, None),
        ("DELETE", "/api/models/bad%20name", None, 400, "invalid_model_name"),
        ("DELETE", "/api/models/x?server=ghost", None, 404, "unknown_server"),
        ("POST", "/api/models/pull", "[1, 2]", 400, None),
        ("POST", "/api/models/pull", "{not json", 400, None),
    ],
)
def test_bad_input_gets_a_json_error_and_starts_no_job(
    client: FlaskClient,
    services: Services,
    method: str,
    path: str,
    body: object,
    status: int,
    code: str | None,
) -> None:
    data = body if isinstance(body, str) or body is None else None
    if isinstance(body, dict):
        data = json.dumps(body)
    answer = client.open(
        path, method=method, data=data, content_type="application/json"
    )
    assert answer.status_code == status, answer.json
    error = answer.json["error"]
    assert error["message"]
    assert not error["message"].startswith("Traceback")
    if code is not None:
        assert error["code"] == code
    if status == 404 and "server" in path + str(body):
        assert error["message"] in (
            "Serveur inconnu.",
            "Modèle introuvable sur le serveur Ollama.",
        )
    assert services.runner.list() == []


def test_oversized_body_is_413(client: FlaskClient) -> None:
    big = '{"name": "' + "a" * (2 * 1024 * 1024) + '"}'
    answer = client.post("/api/models/pull", data=big, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json["error"]["message"] == "Requête trop volumineuse."


def test_a_hanging_server_times_out_as_504(
    fleet: EmulatedFleet, tmp_path: object
) -> None:

    fleet.nodes[0].state.faults.hang = True
    try:
        with fleet_services(
            fleet, tmp_path, read_timeout=0.3, connect_timeout=0.3
        ) as services:
            answer = create_app(services=services).test_client().get("/api/models")
    finally:
        fleet.nodes[0].state.hang_release.set()
        fleet.nodes[0].state.faults.hang = False
    assert answer.status_code == 504
    assert answer.json["error"]["code"] == "ollama_timeout"


def test_a_stopped_server_is_502(
    client: FlaskClient, fleet: EmulatedFleet, names: list[str]
) -> None:
    fleet.nodes[1].server.stop()
    answer = client.get(f"/api/models?server={names[1]}")
    assert answer.status_code == 502
    assert answer.json["error"]["message"] == "Serveur Ollama injoignable."


@pytest.mark.parametrize("body", ["[1, 2]", "{not json"])
def test_a_body_that_is_not_an_object_is_refused_in_french(
    client: FlaskClient, body: str
) -> None:
    answer = client.post("/api/models/pull", data=body, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json["error"] == {
        "code": "invalid_request",
        "message": "Corps de requête invalide : un objet JSON est attendu.",
    }
