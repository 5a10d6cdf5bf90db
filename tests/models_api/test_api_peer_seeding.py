"""Seeding from a peer: a node takes a model from another node that has it.

Real sockets throughout: two emulated nodes keeping their models in Ollama's
layout, a node agent serving node A's data dir (``--serve-models``), the fake
registry counting the bytes it serves, the JSON API pulling to node B.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask.testing import FlaskClient
from models_api_support import post, wait_finished

from fleet_support import FAST, closed_port_url, fleet_services
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from peer_support import NodeAgent, node_agent, pull_on_node
from waiting import wait_until

MODEL = "all-minilm:latest"  # on no node at first
BIG = "llama3.2:1b"  # ~20 MB at the scale below: more than sockets buffer
NODES = [("smollm2:135m",)] * 2


def node_options(tmp_path: Path) -> list[dict[str, object]]:
    return [{"models_dir": tmp_path / name / "models"} for name in ("a", "b")]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[EmulatedFleet]:
    with running_fleet(
        NODES, bandwidth=FAST, node_options=node_options(tmp_path)
    ) as running:
        yield running


@pytest.fixture
def agent(fleet: EmulatedFleet) -> Iterator[NodeAgent]:
    models_dir = fleet.nodes[0].state.models_dir
    assert models_dir is not None
    with node_agent(models_dir) as running:
        yield running


@pytest.fixture
def services(
    fleet: EmulatedFleet, tmp_path: Path, agent: NodeAgent
) -> Iterator[Services]:
    with fleet_services(
        fleet, tmp_path / "manager", seed_cache_url=closed_port_url()
    ) as built:
        yield built


@pytest.fixture
def client(services: Services, agent: NodeAgent) -> FlaskClient:
    client = create_app(services=services).test_client()
    node_a = services.servers.all()[0].name
    answer = client.put(f"/api/servers/{node_a}/agent", json={"agent": agent.address})
    assert answer.status_code == 200, answer.json
    assert answer.json["agent_answered"] is True
    return client


def names(services: Services) -> tuple[str, str]:
    first, second = services.servers.all()
    return first.name, second.name


def registry_digest(fleet: EmulatedFleet, model: str = MODEL) -> str:
    entry = fleet.registry.lookup(model)
    assert entry is not None
    return hashlib.sha256(entry.manifest_bytes()).hexdigest()


def model_size(fleet: EmulatedFleet, model: str = MODEL) -> int:
    entry = fleet.registry.lookup(model)
    assert entry is not None
    return entry.size


def tags(url: str) -> dict[str, str]:
    answer = httpx.get(f"{url}/api/tags", timeout=5)
    return {m["name"]: m["digest"] for m in answer.json()["models"]}


def pull_to_b(client: FlaskClient, services: Services, model: str = MODEL) -> str:
    answer = post(
        client, "/api/models/pull", {"name": model, "servers": [names(services)[1]]}
    )
    assert answer.status_code == 202, answer.json
    [job_id] = answer.json["job_ids"]
    return str(job_id)


def test_node_b_takes_the_model_from_node_a_not_the_registry(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    node_a, node_b = fleet.nodes
    pull_on_node(node_a.url, MODEL)  # node A has it, from the registry
    fleet.registry.served.reset()

    job = wait_finished(services, pull_to_b(client, services), 30)
    assert job.state == "done", job.error
    assert fleet.registry.served.total == 0  # not one byte from the registry
    found = tags(node_b.url)
    assert found.get(MODEL) == registry_digest(fleet)
    assert [name for name in found if "/" in name] == []  # the temporary name went
    size = model_size(fleet)
    assert job.result == {
        "status": "success",
        "model": MODEL,
        "source": "peer",
        "peer": names(services)[0],
        "size": size,
        "fetched": 0,
        "saved": size,
    }
    # the job card says where the bytes came from, in French
    page = client.get("/models/-/jobs").get_data(as_text=True)
    assert f"depuis {names(services)[0]} · " in page
    # a fresh update check on B says up to date
    answer = post(
        client,
        "/api/models/check_update",
        {"name": MODEL, "servers": [names(services)[1]]},
    )
    [check] = [wait_finished(services, i, 20) for i in answer.json["job_ids"]]
    assert check.result[0]["status"] == "up_to_date"


def test_a_stale_copy_on_the_peer_is_not_spread(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    node_a, node_b = fleet.nodes
    pull_on_node(node_a.url, MODEL)
    stale = tags(node_a.url)[MODEL]
    fleet.registry.publish_update("all-minilm")
    assert registry_digest(fleet) != stale
    fleet.registry.served.reset()

    job = wait_finished(services, pull_to_b(client, services), 30)
    assert job.state == "done", job.error
    assert job.result.get("source") != "peer"
    assert "peer_error" not in job.result  # no peer was even tried
    assert fleet.registry.served.total > 0
    assert tags(node_b.url).get(MODEL) == registry_digest(fleet)
    assert tags(node_a.url)[MODEL] == stale  # A keeps its own copy


def test_without_the_model_on_a_peer_the_pull_is_the_usual_one(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    fleet.registry.served.reset()
    job = wait_finished(services, pull_to_b(client, services), 30)
    assert job.state == "done", job.error
    assert job.result == {"status": "success", "model": MODEL}
    assert fleet.registry.served.total > model_size(fleet) / 2
    assert job.params["peers"][0]["name"] == names(services)[0]


def test_to_every_server_the_one_that_has_it_serves_the_others(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    node_a, node_b = fleet.nodes
    pull_on_node(node_a.url, MODEL)
    answer = post(client, "/api/models/pull", {"name": MODEL, "servers": "all"})
    assert answer.status_code == 202, answer.json
    jobs = [wait_finished(services, i, 30) for i in answer.json["job_ids"]]
    assert [job.state for job in jobs] == ["done", "done"], [j.error for j in jobs]
    by_server = {job.params["server"]: job.result for job in jobs}
    name_a, name_b = names(services)
    assert by_server[name_b]["source"] == "peer"
    assert by_server[name_b]["peer"] == name_a
    assert by_server[name_a].get("source") != "peer"  # never from itself
    assert tags(node_b.url).get(MODEL) == registry_digest(fleet)


@pytest.fixture
def big_fleet(tmp_path: Path) -> Iterator[EmulatedFleet]:
    with running_fleet(
        NODES,
        bandwidth=FAST,
        node_options=node_options(tmp_path),
        registry_options={"scale": 0.015},
        retry_delay=0.02,
    ) as running:
        yield running


def test_the_peer_gone_mid_pull_the_registry_completes_it(
    big_fleet: EmulatedFleet, tmp_path: Path
) -> None:
    fleet = big_fleet
    node_a, node_b = fleet.nodes
    pull_on_node(node_a.url, BIG)
    assert node_a.state.models_dir is not None
    size = model_size(fleet, BIG)
    with (
        node_agent(node_a.state.models_dir) as agent,
        fleet_services(
            fleet, tmp_path / "manager", seed_cache_url=closed_port_url()
        ) as services,
    ):
        client = create_app(services=services).test_client()
        name_a = names(services)[0]
        client.put(f"/api/servers/{name_a}/agent", json={"agent": agent.address})
        node_b.state.bandwidth = size / 8  # the copy from A would take ~8 s
        fleet.registry.served.reset()
        job_id = pull_to_b(client, services, BIG)

        def copying() -> Job:
            return services.runner.get(job_id)

        wait_until(lambda: (copying().progress.completed or 0) > size / 20, 20)
        agent.models.stop()  # node A's agent goes away mid-pull
        node_b.state.bandwidth = FAST
        job = wait_finished(services, job_id, 60)
    assert job.state == "done", job.error
    assert job.result["source"] == "registry"
    assert job.result["peer"] == name_a
    assert job.result["peer_error"]
    assert tags(node_b.url).get(BIG) == registry_digest(fleet, BIG)
    assert [name for name in tags(node_b.url) if "/" in name] == []
    # what B had received from A was kept: the registry sent less than the model
    assert 0 < fleet.registry.served.total < size
