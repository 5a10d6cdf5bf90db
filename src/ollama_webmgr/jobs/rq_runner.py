"""Jobs on RQ workers, records in Redis, progress on Redis Streams.

The web side (``RQRunner``) writes the record and enqueues ``run_job``; a worker
(``ollama-webmgr worker``) runs it. The task registry travels by import path
(``"package.module:attr"``, ``attr`` a mapping or a zero-argument function
returning one), so a worker needs no configuration beyond ``REDIS_URL``.

A worker refreshes ``job:<id>:alive`` while it runs a job. Reading a running job
whose key has expired (the worker was killed) marks it ``interrupted``, publishes
an ``error`` event and frees its dedupe key: the job can be retried, and what it
published stays on its stream.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

import redis
import rq
from rq.command import send_stop_job_command
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job as RQJob

from ollama_webmgr.errors import JobError, JobNotFound
from ollama_webmgr.jobs.context import TaskRegistry
from ollama_webmgr.jobs.execution import execute, finish
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.redis_bus import RedisBus
from ollama_webmgr.jobs.redis_store import RedisJobStore
from ollama_webmgr.jobs.rq_worker import Worker
from ollama_webmgr.jobs.runner import check_retryable

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "ollama-webmgr"
DEFAULT_PREFIX = "webmgr"
# RQ states after which a job that never reached "running" will not run.
_RQ_DEAD = {"failed", "stopped", "canceled"}
_ENQUEUE_GRACE = 30.0


def load_tasks(ref: str) -> TaskRegistry:
    """Resolve ``"module:attr"`` to a task registry.

    >>> sorted(load_tasks("collections:OrderedDict"))
    []
    >>> load_tasks("no.such.module:tasks")
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.JobError: cannot load tasks 'no.such.module:tasks': No module named 'no'
    """
    module_name, _, attr = ref.partition(":")
    try:
        target: Any = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise JobError(f"cannot load tasks {ref!r}: {exc}") from None
    tasks = target if isinstance(target, Mapping) else target()
    if not isinstance(tasks, Mapping):
        raise JobError(f"tasks {ref!r} is not a mapping of kind to function")
    return tasks


class RQRunner:
    def __init__(
        self,
        connection: redis.Redis,
        *,
        tasks_ref: str,
        prefix: str = DEFAULT_PREFIX,
        queue: str = DEFAULT_QUEUE,
        alive_ttl: float = 10.0,
        cancel_grace: float = 10.0,
        on_change: Callable[[Job], None] | None = None,
        store_url: str | None = None,
    ) -> None:
        """``on_change`` sees the state changes made here; ``store_url`` is handed
        to the workers so they record theirs (running, final) in the same store."""
        self._kinds = set(load_tasks(tasks_ref))
        self._store_url = store_url
        self._tasks_ref = tasks_ref
        self._prefix = prefix
        self._alive_ttl = alive_ttl
        self._cancel_grace = cancel_grace
        self._store = RedisJobStore(
            connection, prefix, alive_ttl=alive_ttl, on_change=on_change
        )
        self.bus = RedisBus(connection, prefix=prefix)
        self._queue = rq.Queue(queue, connection=connection)

    def submit(
        self, kind: str, params: dict[str, Any], *, dedupe_key: str | None = None
    ) -> Job:
        return self._submit(kind, params, dedupe_key, retry_of=None)

    def _submit(
        self,
        kind: str,
        params: dict[str, Any],
        dedupe_key: str | None,
        retry_of: str | None,
    ) -> Job:
        if kind not in self._kinds:
            raise JobError(f"unknown job kind {kind!r}")
        job = Job.new(kind, params, dedupe_key=dedupe_key, retry_of=retry_of)
        # The record exists before the claim so a joiner never sees a dangling id.
        self._store.save(job, notify=False)
        if dedupe_key:
            holder = self._join_or_claim(dedupe_key, job)
            if holder is not None:
                self._store.delete(job)
                return holder
        self._queue.enqueue(
            run_job,
            job.id,
            self._prefix,
            self._tasks_ref,
            self._alive_ttl,
            self._store_url,
            job_id=job.id,
            job_timeout=-1,  # pulls take as long as they take; reads time out
            result_ttl=600,
            failure_ttl=86400,
        )
        self._store.notify(job)
        return job

    def _join_or_claim(self, key: str, job: Job) -> Job | None:
        for _ in range(10):
            if self._store.claim_dedupe(key, job.id):
                return None
            holder_id = self._store.dedupe_holder(key)
            if holder_id is None:
                continue
            try:
                holder = self.get(holder_id)
            except JobNotFound:
                holder = None
            if holder is not None and holder.active:
                return holder
            self._store.release_dedupe(key, holder_id)
        raise JobError(f"could not claim dedupe key {key!r}")

    def get(self, job_id: str) -> Job:
        return self._reconcile(self._store.load(job_id))

    def list(self, active_only: bool = False, limit: int = 200) -> list[Job]:
        jobs = self._store.load_many(self._store.recent_ids(limit))
        jobs = [self._reconcile(j) if j.active else j for j in jobs]
        return [j for j in jobs if j.active] if active_only else jobs

    def cancel(self, job_id: str) -> Job:
        """Flag the job; a queued one is cancelled at once (its RQ job too), a
        running one stops when its task next checks ``cancelled()``."""
        job = self.get(job_id)
        if job.finished:
            return job
        self._store.request_cancel(job_id)

        def mark(current: Job) -> Job | None:
            if current.finished:
                return None
            if current.state == "queued":
                return current.with_state(
                    "cancelled",
                    cancel_requested=True,
                    error="cancelled",
                    error_code="cancelled",
                )
            return current.with_state(current.state, cancel_requested=True)

        changed = self._store.change(job_id, mark)
        if changed is None:
            return self.get(job_id)
        if changed.finished:
            self._cancel_rq_job(job_id)
            finish(changed, self.bus, self._store)
        return changed

    def _cancel_rq_job(self, job_id: str) -> None:
        # Already gone or started: run_job then reads the record and stops.
        with suppress(NoSuchJobError, InvalidJobOperation):
            RQJob.fetch(job_id, connection=self._queue.connection).cancel()

    def retry(self, job_id: str) -> Job:
        old = self.get(job_id)
        check_retryable(old)
        return self._submit(old.kind, old.params, old.dedupe_key, retry_of=old.id)

    def _reconcile(self, job: Job) -> Job:
        """Notice jobs whose worker is gone (``interrupted``) and tasks that
        ignore a cancel request for ``cancel_grace`` seconds (stopped by RQ)."""
        if job.state == "running" and not self._store.is_alive(job.id):
            return self._interrupt(job, "the worker running this job stopped")
        if job.state == "running" and self._cancel_overdue(job.id):
            return self._force_stop(job)
        if job.state == "queued" and self._dropped_by_rq(job):
            return self._interrupt(job, "the job queue dropped this job")
        return job

    def _cancel_overdue(self, job_id: str) -> bool:
        since = self._store.cancel_requested_at(job_id)
        return since is not None and time.time() - since > self._cancel_grace

    def _force_stop(self, job: Job) -> Job:
        # RQ kills the work horse; a SimpleWorker (no horse) cannot be stopped.
        with suppress(NoSuchJobError, InvalidJobOperation):
            send_stop_job_command(self._queue.connection, job.id)
        changed = self._store.change(
            job.id,
            lambda j: (
                j.with_state("cancelled", error="cancelled", error_code="cancelled")
                if j.state == "running"
                else None
            ),
        )
        if changed is None:
            return self._store.load(job.id)
        log.warning("job %s ignored its cancel request: stopped", job.id)
        return finish(changed, self.bus, self._store)

    def _dropped_by_rq(self, job: Job) -> bool:
        try:
            rq_job = RQJob.fetch(job.id, connection=self._queue.connection)
        except NoSuchJobError:
            # A record is written just before its RQ job: allow for that gap.
            return time.time() - job.created_at > _ENQUEUE_GRACE
        return str(rq_job.get_status(refresh=False).value) in _RQ_DEAD

    def _interrupt(self, job: Job, reason: str) -> Job:
        def mark(current: Job) -> Job | None:
            if current.state != job.state or self._store.is_alive(job.id):
                return None
            return current.with_state(
                "interrupted", error=reason, error_code="interrupted"
            )

        changed = self._store.change(job.id, mark)
        if changed is None:
            return self._store.load(job.id)
        log.warning("job %s interrupted: %s", job.id, reason)
        return finish(changed, self.bus, self._store)


@contextmanager
def _alive(store: RedisJobStore, job_id: str) -> Iterator[None]:
    """Keep the job's alive key fresh from a side thread while the task runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(store.alive_ttl / 3):
            store.touch_alive(job_id)

    store.touch_alive(job_id)
    thread = threading.Thread(target=beat, name=f"alive-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        store.drop_alive(job_id)


def run_job(
    job_id: str,
    prefix: str,
    tasks_ref: str,
    alive_ttl: float,
    store_url: str | None = None,
) -> str:
    """RQ entry point (runs on a worker): execute one job, return its final state.

    With ``store_url`` the job's state changes also go to that store's ``jobs``
    table, so it holds every job even when no web process is watching.
    """
    current = rq.get_current_job()
    if current is None:
        raise JobError("run_job must run inside an RQ worker")
    connection = current.connection
    with _job_recorder(store_url) as on_change:
        store = RedisJobStore(
            connection, prefix, alive_ttl=alive_ttl, on_change=on_change
        )
        bus = RedisBus(connection, prefix=prefix)
        with _alive(store, job_id):
            job = execute(job_id, load_tasks(tasks_ref), store, bus)
    return job.state if job is not None else "skipped"


@contextmanager
def _job_recorder(store_url: str | None) -> Iterator[Callable[[Job], None] | None]:
    if not store_url:
        yield None
        return
    # Imported here: the persistence layer is only needed when a store is given.
    from ollama_webmgr.jobs.recording import JobRecorder
    from ollama_webmgr.store.database import open_database

    db = open_database(store_url)
    try:
        yield JobRecorder(db)
    finally:
        db.close()


def run_worker(
    redis_url: str, *, queue: str = DEFAULT_QUEUE, burst: bool = False
) -> None:
    """Run an RQ worker on ``queue`` until stopped (``ollama-webmgr worker``)."""
    connection = redis.Redis.from_url(redis_url)
    worker = Worker([queue], connection=connection)
    worker.work(burst=burst)
