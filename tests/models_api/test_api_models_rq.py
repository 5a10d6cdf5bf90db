"""Model jobs on real RQ workers over the real Redis (the ``REDIS_URL`` mode)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient
from models_api_support import model_names, parse_sse, post, wait_finished

from ollama_webmgr.jobs.tasks import TASKS_REF
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet
from ollama_webmgr.store.database import Where
from rq_workers import run_burst

redis = pytest.importorskip("redis")
rq = pytest.importorskip("rq")


@pytest.fixture
def rq_services(services: Services, redis_conn: Any, redis_prefix: str) -> Services:
    from ollama_webmgr.jobs.rq_runner import RQRunner

    runner = RQRunner(
        redis_conn, tasks_ref=TASKS_REF, prefix=redis_prefix, queue=redis_prefix
    )
    return replace(services, runner=runner, bus=runner.bus)


@pytest.fixture
def rq_client(rq_services: Services) -> FlaskClient:
    return create_app(services=rq_services).test_client()


def test_a_pull_runs_on_a_worker_and_its_events_replay_from_redis(
    rq_client: FlaskClient,
    rq_services: Services,
    fleet: EmulatedFleet,
    redis_conn: Any,
    redis_prefix: str,
    names: list[str],
) -> None:
    fleet.nodes[1].state.bandwidth = 46e6 / 0.4
    assert "all-minilm:latest" not in model_names(rq_client, names[1])
    body = {"name": "all-minilm", "server": names[1]}
    job_id = post(rq_client, "/api/models/pull", body).json["job_id"]
    assert post(rq_client, "/api/models/pull", body).json["job_id"] == job_id
    run_burst(redis_conn, redis_prefix)
    job = wait_finished(rq_services, job_id)
    assert job.state == "done"
    assert job.result == {"status": "success", "model": "all-minilm:latest"}
    events = list(rq_services.bus.events(job_id, None, timeout=0))
    kinds = [e.type for e in events]
    assert kinds[-1] == "done"
    assert "progress" in kinds
    statuses = [e.data.get("status") for e in events if e.type == "status"]
    assert "verifying sha256 digest" in statuses
    # the web process learns from the job record that its cache is stale
    assert "all-minilm:latest" in model_names(rq_client, names[1], refresh=False)
    stream = rq_client.get(f"/api/stream/progress?job_id={job_id}")
    assert stream.status_code == 200
    replay = parse_sse(stream.get_data(as_text=True))
    assert replay[0].event == "status"
    assert replay[-1].event == "done"


def test_update_checks_run_on_a_worker(
    rq_client: FlaskClient,
    rq_services: Services,
    fleet: EmulatedFleet,
    redis_conn: Any,
    redis_prefix: str,
    names: list[str],
) -> None:
    body = {"name": "smollm2:135m", "server": "all"}
    first = post(rq_client, "/api/models/check_update", body).json["job_ids"]
    run_burst(redis_conn, redis_prefix)
    for job_id in first:
        job = wait_finished(rq_services, job_id)
        assert [r["status"] for r in job.result] == ["up_to_date"]
    fleet.registry.publish_update("smollm2:135m")
    second = post(rq_client, "/api/models/check_update", body).json["job_ids"]
    run_burst(redis_conn, redis_prefix)
    for job_id in second:
        job = wait_finished(rq_services, job_id)
        assert [r["status"] for r in job.result] == ["update_available"]
    pulls = post(rq_client, "/api/models/update_all", {}).json["job_ids"]
    assert len(pulls) == 2
    run_burst(redis_conn, redis_prefix)
    for job_id in pulls:
        assert wait_finished(rq_services, job_id).state == "done"
    page = rq_client.get(f"/models?server={names[1]}").get_data(as_text=True)
    assert "à jour" in page


def test_rq_jobs_reach_the_jobs_table_through_the_worker(
    services: Services,
    fleet: EmulatedFleet,
    redis_conn: Any,
    redis_prefix: str,
    names: list[str],
) -> None:
    from ollama_webmgr.jobs.records import JobRecorder, stored_jobs
    from ollama_webmgr.jobs.rq_runner import RQRunner

    # The web side records "queued"; the worker opens the store by its URL and
    # records "running" then the final state (no web process needs to watch).
    runner = RQRunner(
        redis_conn,
        tasks_ref=TASKS_REF,
        prefix=redis_prefix,
        queue=redis_prefix,
        on_change=JobRecorder(services.db),
        store_url=services.settings.store_url,
    )
    client = create_app(
        services=replace(services, runner=runner, bus=runner.bus)
    ).test_client()
    body = {"name": "all-minilm", "server": names[1]}
    job_id = post(client, "/api/models/pull", body).json["job_id"]
    [queued] = [job for job in stored_jobs(services.db) if job.id == job_id]
    assert queued.state == "queued"
    run_burst(redis_conn, redis_prefix)
    [done] = [job for job in stored_jobs(services.db) if job.id == job_id]
    assert done.state == "done"
    [doc] = services.db.find("jobs", [Where("id", "==", job_id)])
    assert doc["kind"] == "pull_model"
    assert doc["finished_at"]
