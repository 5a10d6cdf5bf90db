"""The worker's pub/sub thread ends at once on shutdown (jobs/rq_worker.py).

rq sends UNSUBSCRIBE before it stops the thread; when the thread reads the
reply first, it goes back to waiting for a subscription (60 s), and redis-py
8.2's ``stop()`` waits for it. The test forces that order of events.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from jobs_rq_helpers import ThreadWorker

from ollama_webmgr.jobs.rq_worker import Worker

pytestmark = pytest.mark.redis


class WatchedEvent(threading.Event):
    """Stands for ``PubSub.subscribed_event`` and tells when a reader waits on it."""

    def __init__(self, initially_set: bool) -> None:
        super().__init__()
        if initially_set:
            self.set()
        self.waited = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.set()
        return super().wait(timeout)


def wait_for(condition: Any, limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.mark.parametrize("worker_class", [Worker, ThreadWorker])
def test_shutdown_is_prompt_when_the_thread_reads_the_unsubscribe_reply_first(
    redis_conn: Any, redis_prefix: str, worker_class: type[Any]
) -> None:
    worker = worker_class([redis_prefix], connection=redis_conn, name=redis_prefix)
    worker.subscribe()
    pubsub, thread = worker.pubsub, worker.pubsub_thread
    watched = WatchedEvent(pubsub.subscribed_event.is_set())
    pubsub.subscribed_event = watched
    send = pubsub.unsubscribe

    def unsubscribe_and_let_the_thread_read_the_reply(*args: Any) -> Any:
        result = send(*args)
        # Either the thread is back waiting for a subscription (the stall) or
        # it has seen its run flag down and ended.
        wait_for(lambda: watched.waited.is_set() or not thread.is_alive())
        return result

    pubsub.unsubscribe = unsubscribe_and_let_the_thread_read_the_reply
    started = time.monotonic()
    worker.unsubscribe()
    assert time.monotonic() - started < 3
    assert not thread.is_alive()
    assert not watched.waited.is_set()
