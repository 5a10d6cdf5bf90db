"""Fixtures for the job machinery: memory and Redis flavours of the bus and runners."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ollama_webmgr.jobs.bus import MemoryBus

if TYPE_CHECKING:
    from ollama_webmgr.jobs.rq_runner import RQRunner

HERE = Path(__file__).resolve().parent
# The sample tasks are resolved by import path, as an RQ worker does.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def memory_bus() -> MemoryBus:
    return MemoryBus()


@pytest.fixture
def redis_conn() -> Iterator[Any]:
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
def redis_prefix(redis_conn: Any) -> Iterator[str]:
    """A unique key prefix, also the RQ queue name; all its keys go afterwards."""
    prefix = f"test-webmgr-{uuid.uuid4().hex[:10]}"
    yield prefix
    job_ids = {
        key.decode().split(":")[2]
        for key in redis_conn.scan_iter(match=f"{prefix}:job:*")
    }
    patterns = [f"{prefix}*", f"rq:*{prefix}*", *(f"rq:*{i}*" for i in job_ids)]
    for pattern in patterns:
        keys = list(redis_conn.scan_iter(match=pattern))
        if keys:
            redis_conn.delete(*keys)
    redis_conn.srem("rq:queues", f"rq:queue:{prefix}")


@pytest.fixture
def rq_runner(redis_conn: Any, redis_prefix: str) -> RQRunner:
    """An RQRunner on its own key prefix and queue; workers die within 1 s."""
    from ollama_webmgr.jobs.rq_runner import RQRunner

    return RQRunner(
        redis_conn,
        tasks_ref="jobs_sample_tasks:registry",
        prefix=redis_prefix,
        queue=redis_prefix,
        alive_ttl=1.0,
    )
