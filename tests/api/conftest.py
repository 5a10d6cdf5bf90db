"""An emulated two-node fleet (module-wide) and a web app over it (per test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import REDIS_URL, services
from flask import Flask
from flask.testing import FlaskClient

from fleet_support import SMALL_MODELS, fleet_settings
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.web.app import create_app


@pytest.fixture(scope="module")
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet([SMALL_MODELS, SMALL_MODELS[:1]]) as emulated:
        yield emulated


@pytest.fixture(autouse=True)
def _clean_nodes(fleet: EmulatedFleet) -> Iterator[None]:
    yield
    for node in fleet.nodes:
        node.state.reset()


@pytest.fixture
def app(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Flask]:
    flask_app = create_app(fleet_settings(fleet, tmp_path))
    yield flask_app
    services(flask_app).close()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def redis_conn() -> Iterator[Any]:
    redis = pytest.importorskip("redis")
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis on 127.0.0.1:6379 is required in CI")
        pytest.skip("no Redis server on 127.0.0.1:6379")
    yield conn
    conn.close()


@pytest.fixture
def redis_prefix(redis_conn: Any) -> Iterator[str]:
    """A unique key prefix and RQ queue name; its keys are deleted afterwards."""
    prefix = f"test-fleet-{uuid.uuid4().hex[:10]}"
    yield prefix
    job_ids = {
        key.decode().split(":")[2]
        for key in redis_conn.scan_iter(match=f"{prefix}:job:*")
    }
    for pattern in [f"{prefix}*", f"rq:*{prefix}*", *(f"rq:*{i}*" for i in job_ids)]:
        keys = list(redis_conn.scan_iter(match=pattern))
        if keys:
            redis_conn.delete(*keys)
    redis_conn.srem("rq:queues", f"rq:queue:{prefix}")
