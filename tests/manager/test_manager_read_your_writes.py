"""Read your writes between the web app and the gateway (issue 14, point 3).

A write through the web app (its JSON API: delete, copy, a pull job) is seen
by the gateway's next request, and a write through the gateway by the web
app's next listing, at once: in one process (``serve``), and across processes
sharing Redis (two ``Services`` stand for a web process and a gateway process;
the pull job runs on a real RQ worker). No sleeps: the health monitors are not
running, so only the writes themselves can update what each side knows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import ollama
import pytest
from flask.testing import FlaskClient

from fleet_support import FAST, fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import start_in_thread
from redis_fixtures import REDIS_URL
from rq_workers import run_burst

NODES = (("smollm2:135m", "qwen2.5:0.5b"), ("smollm2:135m",), ("qwen2.5:0.5b",))


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet(NODES, bandwidth=FAST) as running:
        yield running


@contextmanager
def gateway_client(services: Services) -> Iterator[ollama.Client]:
    """The process's gateway on a real socket, and the official client on it."""
    services.gateway.monitor.check_all()  # listed once, as at start-up
    server = start_in_thread(services.gateway.app)
    client = ollama.Client(host=server.url)
    try:
        yield client
    finally:
        client.close()
        server.stop()


def web(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def names(services: Services) -> list[str]:
    return [server.name for server in services.servers.all()]


def listing(client: FlaskClient, server: str) -> tuple[list[str], bool]:
    """The web app's listing of one server (from its cache when it can)."""
    answer = client.get(f"/api/models?server={server}")
    assert answer.status_code == 200, answer.json
    return sorted(m["name"] for m in answer.json["models"]), answer.json["cached"]


def post(client: FlaskClient, path: str, body: Any) -> Any:
    answer = client.post(path, data=json.dumps(body), content_type="application/json")
    assert answer.status_code in (200, 202), answer.json
    return answer.json


def missing(gateway: ollama.Client, model: str) -> bool:
    with pytest.raises(ollama.ResponseError) as caught:
        gateway.show(model)
    return caught.value.status_code == 404


def check_web_writes_reach_the_gateway(
    web_app: FlaskClient, servers: list[str], gateway: ollama.Client
) -> None:
    first, second, _ = servers
    assert gateway.show("smollm2:135m").modelfile  # the gateway knows it is there
    # copy on one server: the gateway finds the copy at once
    post(
        web_app,
        "/api/models/copy",
        {"source": "smollm2:135m", "dest": "mine:v1", "server": second},
    )
    assert gateway.show("mine:v1").modelfile
    assert gateway.generate("mine:v1", "hi").done
    # delete it from every server holding it: gone through the gateway at once
    for server in (first, second):
        answer = web_app.delete(f"/api/models/smollm2:135m?server={server}")
        assert answer.status_code == 200, answer.json
        assert gateway.show("mine:v1").modelfile  # the copy is still on second
    assert missing(gateway, "smollm2:135m")
    assert "smollm2:135m" not in {m.model for m in gateway.list().models}


def check_gateway_writes_reach_the_web_app(
    web_app: FlaskClient, servers: list[str], gateway: ollama.Client
) -> None:
    first, _, third = servers
    for server in servers:  # the web app caches every listing
        listing(web_app, server)
        assert listing(web_app, server)[1] is True
    assert gateway.pull("all-minilm").status == "success"
    for server in servers:
        models, cached = listing(web_app, server)
        assert "all-minilm:latest" in models
        assert cached is False
    assert gateway.copy("qwen2.5:0.5b", "theirs:v1").status == "success"
    assert "theirs:v1" in listing(web_app, first)[0]
    assert "theirs:v1" in listing(web_app, third)[0]
    assert gateway.delete("all-minilm").status == "success"
    assert all("all-minilm:latest" not in listing(web_app, s)[0] for s in servers)


@pytest.fixture
def one_process(
    fleet: EmulatedFleet, tmp_path: Path
) -> Iterator[tuple[Services, ollama.Client]]:
    """``serve``: the web app and the gateway share one ``Services``."""
    with (
        fleet_services(fleet, tmp_path, models_cache_ttl=60.0) as services,
        gateway_client(services) as gateway,
    ):
        yield services, gateway


def test_in_one_process_web_writes_reach_the_gateway_at_once(one_process) -> None:
    services, gateway = one_process
    check_web_writes_reach_the_gateway(web(services), names(services), gateway)


def test_in_one_process_gateway_writes_reach_the_web_app_at_once(one_process) -> None:
    services, gateway = one_process
    check_gateway_writes_reach_the_web_app(web(services), names(services), gateway)


def test_a_pull_job_of_the_web_app_is_found_by_the_gateway_once_done(
    one_process,
) -> None:
    services, gateway = one_process
    assert missing(gateway, "all-minilm")
    server = names(services)[1]
    answer = post(
        web(services), "/api/models/pull", {"name": "all-minilm", "server": server}
    )
    for job_id in answer["job_ids"]:
        wait_finished(services, job_id)
    assert gateway.show("all-minilm").modelfile  # no probe ran meanwhile


def wait_finished(services: Services, job_id: str) -> None:
    """The job's own record says it ended (the condition, not a sleep)."""
    deadline = time.monotonic() + 15
    while not services.runner.get(job_id).finished:
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.01)
    assert services.runner.get(job_id).state == "done"


@pytest.mark.redis
def test_across_processes_sharing_redis_writes_are_read_at_once(
    fleet: EmulatedFleet, tmp_path: Path, redis_conn: Any, redis_prefix: str
) -> None:
    shared = {
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "models_cache_ttl": 60.0,
    }
    with ExitStack() as stack:
        web_process = stack.enter_context(fleet_services(fleet, tmp_path, **shared))
        gateway_process = stack.enter_context(fleet_services(fleet, tmp_path, **shared))
        gateway = stack.enter_context(gateway_client(gateway_process))
        web_app = web(web_process)
        servers = names(web_process)
        check_web_writes_reach_the_gateway(web_app, servers, gateway)
        check_gateway_writes_reach_the_web_app(web_app, servers, gateway)
        # a pull job of the web process, run by an RQ worker
        assert missing(gateway, "llama3.2")
        answer = post(
            web_app, "/api/models/pull", {"name": "llama3.2", "server": servers[2]}
        )
        run_burst(redis_conn, web_process.settings.job_queue)
        for job_id in answer["job_ids"]:
            wait_finished(web_process, job_id)
        assert gateway.show("llama3.2").modelfile
