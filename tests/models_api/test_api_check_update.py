"""Update checks: the registry first, the streaming pull probe as a fallback."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from models_api_support import post, wait_finished

from fleet_support import closed_port_url, fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet


def check(client: FlaskClient, services: Services, body: dict[str, object]) -> list:
    answer = post(client, "/api/models/check_update", body)
    assert answer.status_code == 202, answer.json
    results = []
    for job_id in answer.json["job_ids"]:
        job = wait_finished(services, job_id)
        assert job.state == "done", job.error
        results.append(job.result)
    return results


def test_a_published_update_is_detected_by_the_registry(
    client: FlaskClient, services: Services, fleet: EmulatedFleet, names: list[str]
) -> None:
    [before] = check(client, services, {"name": "smollm2:135m", "server": names[1]})
    assert [(r["model"], r["status"], r["reason"]) for r in before] == [
        ("smollm2:135m", "up_to_date", "same_digest")
    ]
    fleet.registry.publish_update("smollm2:135m")
    [after] = check(client, services, {"name": "smollm2:135m", "server": names[1]})
    assert after[0]["status"] == "update_available"
    assert after[0]["remote_digest"] != after[0]["local_digest"]
    # nothing was pulled: the node still has the old version
    assert fleet.nodes[1].state.find("smollm2:135m").digest == after[0]["local_digest"]


def test_checking_every_server_covers_every_model(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    fleet.registry.publish_update("all-minilm")
    results = check(client, services, {"server": "all"})
    flat = {(r["model"], r["status"]) for result in results for r in result}
    assert flat == {
        ("smollm2:135m", "up_to_date"),
        ("all-minilm:latest", "update_available"),
    }
    assert sum(len(result) for result in results) == 3


def test_update_all_pulls_only_flagged_models_where_they_are(
    client: FlaskClient, services: Services, fleet: EmulatedFleet, names: list[str]
) -> None:
    fleet.registry.publish_update("smollm2:135m")
    check(client, services, {"server": "all"})
    answer = post(client, "/api/models/update_all", {})
    assert answer.status_code == 200
    jobs = [services.runner.get(j) for j in answer.json["job_ids"]]
    assert sorted(j.params["server"] for j in jobs) == sorted(names)
    assert {j.params["model"] for j in jobs} == {"smollm2:135m"}
    for job in jobs:
        wait_finished(services, job.id)
    [again] = check(client, services, {"name": "smollm2:135m", "server": names[0]})
    assert again[0]["status"] == "up_to_date"


def test_a_model_the_server_lacks_fails_the_check_job(
    client: FlaskClient, services: Services, names: list[str]
) -> None:
    answer = post(
        client, "/api/models/check_update", {"name": "all-minilm", "server": names[1]}
    )
    job = wait_finished(services, answer.json["job_id"])
    assert job.state == "error"
    assert job.error_code == "not_found"


def test_without_the_registry_a_streaming_pull_probe_decides(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    node = fleet.nodes[1].state
    entry = fleet.registry.lookup("smollm2:135m")
    assert entry is not None  # a new layer would take seconds: the probe must not wait
    node.bandwidth = entry.weights.size / 13
    with fleet_services(fleet, tmp_path, registry_url=closed_port_url()) as services:
        client = create_app(services=services).test_client()
        names = [s.name for s in services.servers.all()]
        body = {"name": "smollm2:135m", "server": names[1]}
        [first] = check(client, services, body)
        assert (first[0]["status"], first[0]["reason"]) == (
            "up_to_date",
            "probe_layers_present",
        )
        old_digest = node.find("smollm2:135m").digest
        fleet.registry.publish_update("smollm2:135m")
        [second] = check(client, services, body)
        assert (second[0]["status"], second[0]["reason"]) == (
            "update_available",
            "probe_downloading",
        )
    # the probe stopped at once: the old version is still installed
    assert node.find("smollm2:135m").digest == old_digest
