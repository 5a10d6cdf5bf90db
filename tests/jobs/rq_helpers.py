"""Running real RQ workers from the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from ollama_webmgr.jobs.model import Job


class ThreadWorker(SimpleWorker):  # type: ignore[misc]
    """A real RQ worker that can live in a thread (signals belong to the main one)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def burst_workers(
    connection: Any, queue: str, count: int = 1
) -> list[threading.Thread]:
    """Start ``count`` workers that run what is queued, then stop."""
    threads = []
    for n in range(count):
        worker = ThreadWorker([queue], connection=connection, name=f"{queue}-w{n}")
        thread = threading.Thread(
            target=worker.work, kwargs={"burst": True}, daemon=True
        )
        thread.start()
        threads.append(thread)
    return threads


def wait_job(
    get: Callable[[str], Job],
    job_id: str,
    done: Callable[[Job], bool],
    limit: float = 10.0,
) -> Job:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = get(job_id)
        if done(job):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job stuck as {get(job_id)}")
