"""Helpers of the model API tests (unique module name: test dirs have no __init__)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from flask.testing import FlaskClient

from ollama_webmgr.jobs.model import Job
from ollama_webmgr.runtime.services import Services


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


@dataclass
class SseEvent:
    event: str
    id: str | None
    data: str
    comment: bool = False

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(text: str) -> list[SseEvent]:
    out = []
    for block in text.split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            out.append(SseEvent("", None, block[1:].strip(), comment=True))
            continue
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        out.append(
            SseEvent(
                fields.get("event", ["message"])[0],
                fields.get("id", [None])[0],
                "\n".join(fields.get("data", [])),
            )
        )
    return out


def read_sse(
    base_url: str,
    job_id: str,
    *,
    last_id: str | None = None,
    stop: Callable[[list[SseEvent]], bool] | None = None,
    timeout: float = 10.0,
) -> list[SseEvent]:
    """Events of one job's stream over a real socket, to its end or until ``stop``."""
    headers = {"Last-Event-ID": last_id} if last_id else {}
    text = ""
    url = f"{base_url}/api/stream/progress?job_id={job_id}"
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_text():
            text += chunk
            if not text.endswith("\n\n"):
                continue
            events = parse_sse(text)
            if stop is not None and stop(events):
                return events
    return parse_sse(text)
