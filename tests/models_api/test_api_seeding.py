"""Pull once, seed the rest: one model to three nodes through the manager's cache.

Real sockets throughout: three emulated nodes pulling over HTTP, the fake
registry counting the bytes it serves, the web app serving the seed cache on
its own port (the address the nodes are given, ``SEED_CACHE_URL``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from models_api_support import post, wait_finished

from fleet_support import FAST, closed_port_url, fleet_services
from ollama_webmgr.french.messages import message_for_code
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.tasks import TASKS_REF
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.app import create_app as create_node_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import RunningServer, start_in_thread
from rq_workers import run_burst
from waiting import wait_until

MODEL = "all-minilm:latest"  # on no node
NODES = [("smollm2:135m",)] * 3


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet(NODES, bandwidth=FAST) as running:
        yield running


@pytest.fixture
def services(
    fleet: EmulatedFleet, tmp_path: Path, cache_url: str
) -> Iterator[Services]:
    with fleet_services(
        fleet, tmp_path, models_cache_ttl=60.0, seed_cache_url=cache_url
    ) as built:
        yield built


@pytest.fixture
def client(services: Services, web: RunningServer) -> FlaskClient:
    return create_app(services=services).test_client()


def model_size(fleet: EmulatedFleet) -> int:
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    return entry.size


def registry_digest(fleet: EmulatedFleet) -> str:
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    return hashlib.sha256(entry.manifest_bytes()).hexdigest()


def entry_layer(fleet: EmulatedFleet) -> str:
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    return entry.layers()[0].digest


def tags(url: str) -> dict[str, str]:
    answer = httpx.get(f"{url}/api/tags", timeout=5)
    return {m["name"]: m["digest"] for m in answer.json()["models"]}


def seed_all(client: FlaskClient, services: Services) -> list[str]:
    answer = post(client, "/api/models/pull", {"name": MODEL, "servers": "all"})
    assert answer.status_code == 202, answer.json
    ids: list[str] = answer.json["job_ids"]
    assert len(ids) == 3
    return ids


def check_all(client: FlaskClient, services: Services) -> list[Job]:
    answer = post(client, "/api/models/check_update", {"name": MODEL, "servers": "all"})
    assert answer.status_code == 202, answer.json
    return [wait_finished(services, i, 20) for i in answer.json["job_ids"]]


def test_three_nodes_take_the_model_from_the_registry_once(
    client: FlaskClient, services: Services, fleet: EmulatedFleet, web: RunningServer
) -> None:
    fleet.registry.served.reset()
    jobs = [wait_finished(services, i, 30) for i in seed_all(client, services)]
    assert [job.state for job in jobs] == ["done"] * 3, [job.error for job in jobs]

    size = model_size(fleet)
    assert fleet.registry.served.total <= 1.05 * size
    # every node: the canonical name only, with the registry's digest
    for node in fleet.nodes:
        found = tags(node.url)
        assert found.get(MODEL) == registry_digest(fleet)
        assert not [name for name in found if "/" in name]  # the temporary name went
    # where each node's bytes came from, and what was saved
    results = [job.result for job in jobs]
    sources = [r["source"] for r in results]
    # a job that fetched any blob says « registre »: usually the first for all
    # of them, but under load another may take the next blob first
    assert "registry" in sources
    assert set(sources) <= {"registry", "cache"}
    assert sum(r["fetched"] for r in results) == fleet.registry.served.total
    assert sum(r["saved"] for r in results) == 3 * size - fleet.registry.served.total
    # a fresh update check says up to date everywhere
    checks = check_all(client, services)
    assert [job.result[0]["status"] for job in checks] == ["up_to_date"] * 3
    # the page's job list says it per node, in French
    page = client.get("/models/-/jobs").get_data(as_text=True)
    assert page.count('data-role="origin"') == 3
    assert page.count("depuis le cache · ") == sources.count("cache")
    assert ">registre<" in page
    # the cache itself, as Ollama asks it: HEAD, ranges, and the direct-URL GET
    blob = f"{web.url}/v2/library/all-minilm/blobs/{entry_layer(fleet)}"
    size_of = int(httpx.head(blob).headers["Content-Length"])
    ranged = httpx.get(blob, headers={"Range": "bytes=1-10"})
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 1-10/{size_of}"
    assert len(ranged.content) == 10
    plain = httpx.get(blob)
    assert plain.status_code == 200
    assert plain.headers["Location"] == blob  # real Ollama's "direct URL"
    assert len(plain.content) == size_of


def test_the_cache_serves_only_models_being_seeded(
    web: RunningServer, fleet: EmulatedFleet, client: FlaskClient
) -> None:
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    base = f"{web.url}/v2/library/all-minilm"
    assert httpx.get(f"{base}/manifests/latest").status_code == 404
    digest = entry.config.digest
    assert httpx.head(f"{base}/blobs/{digest}").status_code == 404
    assert httpx.get(f"{web.url}/v2/library/smollm2/manifests/135m").status_code == 404


def test_a_node_gone_mid_seed_fails_in_french_and_retries_from_the_cache(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    fleet.registry.served.reset()
    size = model_size(fleet)
    fleet.registry.faults.update({"slow": size / 1.0})  # the fill takes ~1 s
    gone = fleet.nodes[2]
    port = gone.server.port
    ids = seed_all(client, services)
    wait_until(lambda: fleet.registry.served.total > 0)
    gone.server.stop()  # while the cache is being filled
    jobs = [wait_finished(services, i, 30) for i in ids]
    assert [job.state for job in jobs[:2]] == ["done", "done"]
    failed = jobs[2]
    assert failed.state == "error"
    why = message_for_code(failed.error_code, failed.error)
    assert "injoignable" in why or "joindre" in why, why
    for node in fleet.nodes[:2]:
        assert tags(node.url).get(MODEL) == registry_digest(fleet)

    # back on its address: the retry takes everything from the cache
    gone.server = start_in_thread(create_node_app(gone.state), port=port)
    answer = post(client, f"/api/jobs/{failed.id}/retry", {})
    assert answer.status_code == 202, answer.json
    retried = wait_finished(services, answer.json["job_id"], 30)
    assert retried.state == "done", retried.error
    assert retried.result["source"] == "cache"
    assert retried.result["saved"] == size
    assert tags(gone.url).get(MODEL) == registry_digest(fleet)
    assert fleet.registry.served.total <= 1.05 * size


def test_without_the_cache_at_its_address_each_node_pulls_directly(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    nowhere = closed_port_url()  # SEED_CACHE_URL where no web app listens
    with fleet_services(fleet, tmp_path, seed_cache_url=nowhere) as services:
        client = create_app(services=services).test_client()
        jobs = [wait_finished(services, i, 30) for i in seed_all(client, services)]
        assert [job.state for job in jobs] == ["done"] * 3, [j.error for j in jobs]
        assert {job.result["fallback"] for job in jobs} == {"seed cache unreachable"}
        page = client.get("/models/-/jobs").get_data(as_text=True)
        assert page.count("registre (cache injoignable)") == 3
    for node in fleet.nodes:
        assert tags(node.url).get(MODEL) == registry_digest(fleet)


def test_the_cache_needs_no_password_and_no_session(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    with fleet_services(fleet, tmp_path, admin_password="secret") as services:
        client = create_app(services=services).test_client()
        assert client.get("/models").status_code == 401
        unknown = client.get("/v2/library/all-minilm/manifests/latest")
        assert unknown.status_code == 404  # the cache's own answer, not a 401
        assert unknown.json["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        assert client.post("/v2/library/all-minilm/manifests/latest").status_code == 405


def test_update_everywhere_seeds_a_model_flagged_on_several_nodes(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    for job_id in seed_all(client, services):
        assert wait_finished(services, job_id, 30).state == "done"
    fleet.registry.publish_update("all-minilm")
    assert [j.result[0]["status"] for j in check_all(client, services)] == [
        "update_available"
    ] * 3
    fleet.registry.served.reset()
    answer = post(client, "/api/models/update_all", {})
    jobs = [wait_finished(services, i, 30) for i in answer.json["job_ids"]]
    assert [job.state for job in jobs] == ["done"] * 3
    assert len({job.params["seed_id"] for job in jobs}) == 1
    assert fleet.registry.served.total <= 1.05 * model_size(fleet)
    for node in fleet.nodes:
        assert tags(node.url).get(MODEL) == registry_digest(fleet)


def test_on_rq_workers_the_seeding_takes_the_registry_bytes_once(
    services: Services,
    fleet: EmulatedFleet,
    web: RunningServer,
    redis_conn: Any,
    redis_prefix: str,
) -> None:
    """The ``REDIS_URL`` mode: the three jobs on three RQ workers at once,
    meeting in the cache's files (its locks) rather than in one process."""
    from ollama_webmgr.jobs.rq_runner import RQRunner

    runner = RQRunner(
        redis_conn, tasks_ref=TASKS_REF, prefix=redis_prefix, queue=redis_prefix
    )
    on_rq = replace(services, runner=runner, bus=runner.bus)
    client = create_app(services=on_rq).test_client()
    fleet.registry.served.reset()
    ids = seed_all(client, on_rq)
    run_burst(redis_conn, redis_prefix, count=3)
    jobs = [wait_finished(on_rq, i, 30) for i in ids]
    assert [job.state for job in jobs] == ["done"] * 3, [job.error for job in jobs]
    assert fleet.registry.served.total <= 1.05 * model_size(fleet)
    for node in fleet.nodes:
        found = tags(node.url)
        assert found.get(MODEL) == registry_digest(fleet)
        assert not [name for name in found if "/" in name]
    results = [job.result for job in jobs]
    assert sum(r["fetched"] for r in results) == fleet.registry.served.total
    assert {r["source"] for r in results} <= {"registry", "cache"}
