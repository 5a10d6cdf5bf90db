"""Fixtures for the job machinery: memory and Redis flavours of the bus and runners."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_webmgr.jobs.bus import MemoryBus

HERE = Path(__file__).resolve().parent
# The sample tasks are resolved by import path, as an RQ worker does.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def memory_bus() -> MemoryBus:
    return MemoryBus()


@pytest.fixture
def redis_conn() -> Iterator[object]:
    redis = pytest.importorskip("redis")
    conn = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        conn.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis on 127.0.0.1:6379 is required in CI")
        pytest.skip("no Redis server on 127.0.0.1:6379")
    yield conn
    conn.close()


@pytest.fixture
def redis_prefix(redis_conn: object) -> Iterator[str]:
    """A unique key prefix; every key under it is deleted afterwards."""
    prefix = f"test-webmgr-{uuid.uuid4().hex[:10]}"
    yield prefix
    keys = list(redis_conn.scan_iter(match=f"{prefix}*"))  # type: ignore[attr-defined]
    if keys:
        redis_conn.delete(*keys)  # type: ignore[attr-defined]


@pytest.fixture
def rq_runner(redis_conn: object, redis_prefix: str) -> Iterator[object]:
    """An RQRunner on its own key prefix and queue (named like the prefix)."""
    from ollama_webmgr.jobs.rq_runner import RQRunner

    runner = RQRunner(
        redis_conn,  # type: ignore[arg-type]
        tasks_ref="jobs_sample_tasks:registry",
        prefix=redis_prefix,
        queue=redis_prefix,
        alive_ttl=1.0,
    )
    yield runner
    for job in runner.list():
        keys = list(redis_conn.scan_iter(match=f"rq:*{job.id}*"))  # type: ignore[attr-defined]
        if keys:
            redis_conn.delete(*keys)  # type: ignore[attr-defined]
    keys = list(redis_conn.scan_iter(match=f"rq:*{redis_prefix}*"))  # type: ignore[attr-defined]
    if keys:
        redis_conn.delete(*keys)  # type: ignore[attr-defined]
    redis_conn.srem("rq:queues", f"rq:queue:{redis_prefix}")  # type: ignore[attr-defined]
