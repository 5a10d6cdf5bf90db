"""Helpers of the model API tests (unique module name: test dirs have no __init__)."""

from __future__ import annotations

import json
import time
from typing import Any

from flask.testing import FlaskClient

from ollama_webmgr.jobs.model import Job
from ollama_webmgr.wiring import Services


def wait_finished(services: Services, job_id: str, limit: float = 10.0) -> Job:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = services.runner.get(job_id)
        if job.finished:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job still {services.runner.get(job_id).state}")


def wait_state(services: Services, job_id: str, state: str, limit: float = 10.0) -> Job:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = services.runner.get(job_id)
        if job.state == state:
            return job
        time.sleep(0.01)
    raise AssertionError(f"job is {services.runner.get(job_id).state}, not {state}")


def post(client: FlaskClient, path: str, body: Any) -> Any:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def model_names(client: FlaskClient, server: str, refresh: bool = True) -> list[str]:
    answer = client.get(f"/api/models?server={server}&refresh={int(refresh)}")
    assert answer.status_code == 200, answer.json
    return [m["name"] for m in answer.json["models"]]
