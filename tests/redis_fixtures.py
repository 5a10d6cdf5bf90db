"""Redis fixtures for every test folder (a plugin named in the root conftest).

Tests talk to the real server on 127.0.0.1:6379: skipped when it is absent,
except under ``CI``, where that is a failure (the root conftest).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_conn() -> Iterator[Any]:
    redis = pytest.importorskip("redis")
    conn = redis.Redis.from_url(REDIS_URL)
    try:
        conn.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    yield conn
    conn.close()


@pytest.fixture
def redis_prefix(redis_conn: Any) -> Iterator[str]:
    """A unique key prefix, also the RQ queue name; all its keys go afterwards."""
    prefix = f"test-webmgr-{uuid.uuid4().hex[:10]}"
    yield prefix
    clean_redis(redis_conn, prefix, queue=prefix)


def clean_redis(conn: Any, prefix: str, queue: str) -> None:
    """Delete the keys of one test installation (its prefix and RQ queue)."""
    job_ids = {
        key.decode().split(":")[2] for key in conn.scan_iter(match=f"{prefix}:job:*")
    }
    patterns = [f"{prefix}*", f"rq:*{queue}*", *(f"rq:*{i}*" for i in job_ids)]
    for pattern in patterns:
        keys = list(conn.scan_iter(match=pattern))
        if keys:
            conn.delete(*keys)
    conn.srem("rq:queues", f"rq:queue:{queue}")
