"""Fixtures for the job machinery: memory and Redis flavours of the bus and runners."""

from __future__ import annotations

import sys
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
