"""Real RQ workers in threads, for every test folder (imported by basename).

They shut down as the production worker does (``PromptUnsubscribe``): rq's own
order stalls a worker's exit up to 60 s with redis-py 8.2 (docs/jobs.md).
"""

from __future__ import annotations

import threading
from typing import Any

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from ollama_webmgr.jobs.rq_worker import PromptUnsubscribe


class ThreadWorker(PromptUnsubscribe, SimpleWorker):  # type: ignore[misc]
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


def run_burst(connection: Any, queue: str, count: int = 1) -> None:
    """Run workers until the queue is empty (and they have all quit)."""
    threads = burst_workers(connection, queue, count)
    for thread in threads:
        thread.join(15)
        assert not thread.is_alive(), "an RQ worker did not finish"
