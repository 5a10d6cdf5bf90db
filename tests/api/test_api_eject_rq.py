"""The forced eject as an RQ job: real Redis, a real RQ worker in a thread."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import REDIS_URL, SMALL, load, loaded, wait_job
from flask.testing import FlaskClient

from fleet_support import fleet_settings
from ollama_webmgr.jobs.rq_runner import RQRunner
from ollama_webmgr.jobs.tasks import TASKS_REF
from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet
from rq_workers import run_burst

pytestmark = pytest.mark.redis


@pytest.fixture
def rq_services(
    fleet: EmulatedFleet, tmp_path: Path, redis_conn: Any, redis_prefix: str
) -> Iterator[Services]:
    base = build_services(fleet_settings(fleet, tmp_path, redis_url=REDIS_URL))
    # Own prefix and queue: other test runs may share this Redis.
    runner = RQRunner(
        redis_conn, tasks_ref=TASKS_REF, prefix=redis_prefix, queue=redis_prefix
    )
    services = dataclasses.replace(base, runner=runner, bus=runner.bus)
    yield services
    services.close()


def test_forced_eject_runs_on_an_rq_worker_and_the_model_leaves_ps(
    fleet: EmulatedFleet, rq_services: Services, redis_conn: Any, redis_prefix: str
) -> None:
    load(fleet, 0)
    fleet.nodes[0].state.faults.update({"fail_next": 1})
    app = create_app(services=rq_services)
    client: FlaskClient = app.test_client()
    response = client.post("/api/eject/force", json={"name": SMALL})
    assert response.status_code == 202
    job_id = response.json["job_id"]
    assert rq_services.runner.get(job_id).state == "queued"

    started = time.monotonic()
    run_burst(redis_conn, redis_prefix)
    job = wait_job(rq_services.runner, job_id)
    assert time.monotonic() - started < 5
    assert job.state == "done", job.error
    assert job.result["attempts"] == 2
    assert loaded(fleet, 0) == []
    statuses = [
        event.data.get("status")
        for event in rq_services.bus.events(job_id, None, timeout=0.2)
        if event.type == "status"
    ]
    assert "retrying" in statuses
    assert statuses[-1] == "ejected"
