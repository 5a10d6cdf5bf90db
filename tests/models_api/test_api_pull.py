"""Pull jobs through the API, watched over SSE on a real socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from models_api_support import (
    model_names,
    post,
    read_sse,
    wait_finished,
    wait_state,
)

from fleet_support import fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet
from ollama_webmgr.sim.serve import RunningServer, serve_in_thread

MODEL = "all-minilm:latest"  # "46 MB" (scaled in the emulator): on node A only


@pytest.fixture
def web(app: Flask) -> Iterator[RunningServer]:
    with serve_in_thread(app) as running:
        yield running


def slow_down(fleet: EmulatedFleet, seconds: float = 1.0) -> None:
    """Make a pull of MODEL take about ``seconds`` on every node."""
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None  # its size is the catalogue's, scaled
    for node in fleet.nodes:
        node.state.bandwidth = entry.size / seconds


def test_pull_streams_status_and_progress_then_done_and_lists_the_model(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    web: RunningServer,
    names: list[str],
) -> None:
    slow_down(fleet, 0.5)
    assert MODEL not in model_names(client, names[1])  # cached from now on
    answer = post(client, "/api/models/pull", {"name": MODEL, "server": names[1]})
    assert answer.status_code == 202
    job_id = answer.json["job_id"]
    events = read_sse(web.url, job_id)
    kinds = [e.event for e in events if not e.comment]
    assert kinds[0] == "status"
    assert events[0].json()["job"]["id"] == job_id
    assert kinds[-1] == "done"
    assert events[-1].json() == {
        "state": "done",
        "state_text": "terminé",
        "result": {"status": "success", "model": MODEL},
    }
    statuses = [e.json().get("status") for e in events if e.event == "status"][1:]
    assert "pulling manifest" in statuses
    # the French a page shows comes with each event
    texts = [e.json().get("status_text") for e in events if e.event == "status"][1:]
    assert "lecture du manifeste" in texts
    layers = [e.json() for e in events if e.event == "progress"]
    assert layers[0]["status_text"].startswith("téléchargement de la couche ")
    assert layers[0]["state_text"] == "en cours"
    assert statuses.index("verifying sha256 digest") < statuses.index("success")
    progress = [e.json() for e in events if e.event == "progress"]
    assert progress, "a 0.5 s download reports progress"
    assert all(p["digest"].startswith("sha256:") for p in progress)
    assert any(p["speed"] for p in progress)
    assert progress[-1]["completed"] <= progress[-1]["total"]
    ids = [int(e.id) for e in events if e.id]
    assert ids == sorted(ids)
    # the cache learned that the pull finished
    assert MODEL in model_names(client, names[1], refresh=False)
    # resume: only what came after the given id
    middle = next(e for e in events if e.event == "progress")
    resumed = read_sse(web.url, job_id, last_id=middle.id)
    resumed_ids = [int(e.id) for e in resumed if e.id]
    assert resumed_ids == [i for i in ids if i > int(middle.id or 0)]
    assert resumed[-1].event == "done"


def test_a_second_pull_of_the_same_model_joins_the_first(
    client: FlaskClient, services: Services, fleet: EmulatedFleet, names: list[str]
) -> None:
    slow_down(fleet, 1.0)
    first = post(client, "/api/models/pull", {"name": MODEL, "server": names[1]})
    second = post(
        client, "/api/models/pull", {"name": "All-MiniLM", "server": names[1]}
    )
    assert first.json["job_id"] == second.json["job_id"]
    assert len(services.runner.list()) == 1
    client.delete(f"/api/jobs/{first.json['job_id']}")
    wait_finished(services, first.json["job_id"])


def test_one_action_pulls_on_every_server(
    client: FlaskClient, services: Services, names: list[str]
) -> None:
    answer = post(client, "/api/models/pull", {"name": "tinyllama", "servers": "all"})
    assert answer.status_code == 202
    job_ids = answer.json["job_ids"]
    assert len(job_ids) == 2
    for job_id in job_ids:
        assert wait_finished(services, job_id).state == "done"
    for name in names:
        assert "tinyllama:latest" in model_names(client, name, refresh=False)
    servers = sorted(services.runner.get(j).params["server"] for j in job_ids)
    assert servers == sorted(names)


def test_cancel_stops_the_download_and_retry_resumes_it(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    web: RunningServer,
    names: list[str],
) -> None:
    slow_down(fleet, 1.5)
    job_id = post(client, "/api/models/pull", {"name": MODEL, "server": names[1]}).json[
        "job_id"
    ]
    seen = read_sse(
        web.url, job_id, stop=lambda evs: any(e.event == "progress" for e in evs)
    )
    assert seen[-1].event == "progress"
    cancelled = client.delete(f"/api/jobs/{job_id}")
    assert cancelled.status_code == 200
    job = wait_finished(services, job_id)
    assert job.state == "cancelled"
    node = fleet.nodes[1].state
    assert MODEL not in model_names(client, names[1])
    deadline = time.monotonic() + 3
    while node.downloads and time.monotonic() < deadline:
        time.sleep(0.02)  # the node notices the closed connection at its next line
    assert node.downloads == {}
    assert any(node.partial.values()), "the node keeps the partial blob"
    ending = read_sse(web.url, job_id)
    assert ending[-1].event == "error"
    assert ending[-1].json()["state"] == "cancelled"
    slow_down(fleet, 0.3)
    retried = post(client, f"/api/jobs/{job_id}/retry", {})
    assert retried.status_code == 202
    new_id = retried.json["job_id"]
    assert new_id != job_id
    assert retried.json["job"]["retry_of"] == job_id
    assert wait_finished(services, new_id).state == "done"
    assert MODEL in model_names(client, names[1], refresh=False)


def test_retry_of_a_running_or_finished_job_is_refused(
    client: FlaskClient, services: Services, names: list[str]
) -> None:
    job_id = post(client, "/api/models/pull", {"name": "smollm2:135m"}).json["job_id"]
    wait_finished(services, job_id)
    answer = post(client, f"/api/jobs/{job_id}/retry", {})
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "job_not_retryable"


def test_an_unknown_upstream_model_ends_the_job_in_error(
    client: FlaskClient, services: Services, web: RunningServer
) -> None:
    job_id = post(client, "/api/models/pull", {"name": "nosuchmodel:7b"}).json["job_id"]
    events = read_sse(web.url, job_id)
    assert events[-1].event == "error"
    data = events[-1].json()
    assert data["state"] == "error"
    assert data["code"] == "ollama_stream_error"
    # French for the person, Ollama's own words kept for whoever digs
    assert data["message"].startswith("Ce modèle n’existe pas dans la bibliothèque")
    assert "file does not exist" in data["detail"]
    job = client.get(f"/api/jobs/{job_id}").json["job"]
    assert job["state"] == "error"
    assert job["message"] == data["message"]


def test_a_hanging_node_sends_keep_alives_then_a_timeout_error(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    node = fleet.nodes[0].state
    with fleet_services(fleet, tmp_path, pull_timeout=0.8) as services:
        app = create_app(services=services)
        app.config["SSE_HEARTBEAT"] = 0.1
        node.faults.hang = True
        try:
            with serve_in_thread(app) as web:
                job_id = post(
                    app.test_client(), "/api/models/pull", {"name": MODEL}
                ).json["job_id"]
                events = read_sse(web.url, job_id)
        finally:
            node.release_hang()
    assert sum(1 for e in events if e.comment) >= 3
    assert events[-1].event == "error"
    assert events[-1].json()["code"] == "ollama_timeout"


def test_a_node_that_drops_the_stream_ends_the_job_in_error_and_it_can_be_retried(
    client: FlaskClient, services: Services, fleet: EmulatedFleet, web: RunningServer
) -> None:
    node = fleet.nodes[0].state
    slow_down(fleet, 1.0)
    node.faults.drop_after = 3  # the connection is cut after three lines
    job_id = post(client, "/api/models/pull", {"name": MODEL}).json["job_id"]
    events = read_sse(web.url, job_id)
    assert events[-1].event == "error"
    assert events[-1].json()["state"] == "error"
    job = wait_finished(services, job_id)
    assert job.state == "error"  # ended, not left running
    answer = client.get(f"/api/jobs/{job_id}").json
    assert answer["job"]["message"]  # a French message for the UI
    node.faults.drop_after = None
    retried = post(client, f"/api/jobs/{job_id}/retry", {}).json
    assert wait_finished(services, retried["job_id"]).state == "done"


def test_a_client_that_disconnects_leaves_the_job_running(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    web: RunningServer,
    names: list[str],
) -> None:
    slow_down(fleet, 0.6)
    job_id = post(client, "/api/models/pull", {"name": MODEL, "server": names[1]}).json[
        "job_id"
    ]
    first = read_sse(web.url, job_id, stop=lambda evs: len(evs) >= 2)
    assert first[0].event == "status"
    assert wait_finished(services, job_id).state == "done"
    assert read_sse(web.url, job_id)[-1].event == "done"


def test_jobs_api_lists_active_jobs_and_unknown_ids_are_404(
    client: FlaskClient, services: Services, fleet: EmulatedFleet, names: list[str]
) -> None:
    slow_down(fleet, 1.0)
    job_id = post(client, "/api/models/pull", {"name": MODEL, "server": names[1]}).json[
        "job_id"
    ]
    wait_state(services, job_id, "running")
    active = client.get("/api/jobs?active=1").json["jobs"]
    assert [j["id"] for j in active] == [job_id]
    client.delete(f"/api/jobs/{job_id}")
    wait_finished(services, job_id)
    assert client.get("/api/jobs?active=1").json["jobs"] == []
    assert [j["id"] for j in client.get("/api/jobs").json["jobs"]] == [job_id]
    for answer in (
        client.get("/api/jobs/nope"),
        client.delete("/api/jobs/nope"),
        client.get("/api/stream/progress?job_id=nope"),
    ):
        assert answer.status_code == 404
        assert answer.json["error"]["message"] == "Tâche introuvable."
    assert client.get("/api/stream/progress").status_code == 400
    # the record is written by a listener just after the in-memory state changes
    deadline = time.monotonic() + 5
    while (services.db.get("jobs", job_id) or {}).get("state") != "cancelled":
        assert time.monotonic() < deadline, services.db.get("jobs", job_id)
        time.sleep(0.01)
