"""The RQ worker that ``ollama-webmgr worker`` runs, with a prompt shutdown.

An RQ worker listens for commands (stop a job, shut down) on a pub/sub channel
from a redis-py ``PubSubWorkerThread`` that waits up to 60 s per read. On the
way out, rq (2.x to 3.0 at least) sends UNSUBSCRIBE and only then lowers the
thread's run flag with ``stop()``. When the thread reads the UNSUBSCRIBE reply
before ``stop()`` runs, it finds the flag still up, calls ``get_message`` again
and, with no subscription left, sleeps up to 60 s on ``subscribed_event``.
Up to redis-py 8.1 ``stop()`` returned at once and rq's ``join(timeout=1)``
capped that at one second; since redis-py 8.2 ``stop()`` waits for the thread
without a limit, so the worker's exit stalls for up to a minute (as long as
systemd's stop timeout; 1–2 of this project's 11 RQ tests hung in each run).

Lowering the flag *before* UNSUBSCRIBE removes the race: whatever the thread is
doing, the reply wakes it and it then sees the flag down. See docs/jobs.md.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import rq

if TYPE_CHECKING:
    from redis.client import PubSub, PubSubWorkerThread

log = logging.getLogger(__name__)

# Bounds the wait for the pub/sub thread when the server no longer answers.
PUBSUB_EXIT_WAIT = 5.0


class PromptUnsubscribe:
    """Mixin for ``rq.Worker`` classes: its pub/sub thread ends without a stall."""

    name: str
    pubsub: PubSub | None
    pubsub_thread: PubSubWorkerThread | None

    def unsubscribe(self) -> None:
        thread, pubsub = self.pubsub_thread, self.pubsub
        if thread is None or pubsub is None:
            return
        log.info("Worker %s: unsubscribing", self.name)
        thread.stop(timeout=0)  # flag down first, without waiting yet
        pubsub.unsubscribe()  # type: ignore[no-untyped-call]  # its reply wakes the thread
        # The thread closes the pub/sub connection itself as it ends.
        thread.join(PUBSUB_EXIT_WAIT)


class Worker(PromptUnsubscribe, rq.Worker):  # type: ignore[misc]
    """rq's forking worker (each job in a work horse)."""
