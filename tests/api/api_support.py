"""Helpers of the API tests (unique module name: test dirs have no __init__)."""

from __future__ import annotations

import time

from flask import Flask

from ollama_webmgr.edge.services import EXTENSION_KEY
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.runner import JobRunner
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.sim.fleet import EmulatedFleet

SMALL = "smollm2:135m"
REDIS_URL = "redis://127.0.0.1:6379/0"


def services(app: Flask) -> Services:
    found = app.extensions[EXTENSION_KEY]
    assert isinstance(found, Services)
    return found


def load(
    fleet: EmulatedFleet, node: int, model: str = SMALL, keep: str | float = "5m"
) -> None:
    with OllamaClient(fleet.urls[node]) as client:
        client.load(model, keep_alive=keep)


def loaded(fleet: EmulatedFleet, node: int) -> list[str]:
    with OllamaClient(fleet.urls[node]) as client:
        return [entry.name for entry in client.ps()]


def server_names(fleet: EmulatedFleet) -> list[str]:
    """Names the app gives the fleet's nodes (``host:port``)."""
    return [url.removeprefix("http://") for url in fleet.urls]


def wait_job(runner: JobRunner, job_id: str, timeout: float = 10.0) -> Job:
    end = time.monotonic() + timeout
    while True:
        job = runner.get(job_id)
        if job.finished or time.monotonic() > end:
            return job
        time.sleep(0.02)
