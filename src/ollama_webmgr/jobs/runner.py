"""Job runners: the seam between the web app and where long work happens.

``ThreadRunner`` (default) runs tasks on a bounded thread pool in this process
(greenlets under gevent); ``RQRunner`` (``jobs/rq_runner.py``) hands them to RQ
workers when ``REDIS_URL`` is set. Both join a second submit with the same
``dedupe_key`` onto the active job ("a second pull of the same model on the same
server joins the first"), cancel cooperatively and retry into a new job.
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Protocol

from ollama_webmgr.errors import JobError, JobNotFound
from ollama_webmgr.jobs.bus import ProgressBus
from ollama_webmgr.jobs.context import ProgressTracker, TaskRegistry
from ollama_webmgr.jobs.execution import INTERRUPTED, execute, finish
from ollama_webmgr.jobs.hooks import JobListeners
from ollama_webmgr.jobs.model import RETRYABLE_STATES, Job, Progress


class JobRunner(Protocol):
    def submit(
        self, kind: str, params: dict[str, Any], *, dedupe_key: str | None = None
    ) -> Job: ...

    def get(self, job_id: str) -> Job: ...

    def list(self, active_only: bool = False) -> list[Job]: ...

    def cancel(self, job_id: str) -> Job: ...

    def retry(self, job_id: str) -> Job: ...


def check_retryable(job: Job) -> None:
    if job.state not in RETRYABLE_STATES:
        raise JobError(f"job {job.id} is {job.state}; only failed jobs can be retried")


class _MemoryStore:
    """Job records of one process, behind one lock; also the runner's ``JobStore``."""

    def __init__(
        self, on_change: Callable[[Job], None] | None, keep_finished: int
    ) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.stopping = False
        self.jobs: dict[str, Job] = {}
        self.listeners: JobListeners[Job] = (
            JobListeners(on_change) if on_change else JobListeners()
        )
        self._keep_finished = keep_finished

    def get(self, job_id: str) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}")
        return job

    def save(self, job: Job) -> None:
        with self.lock:
            self.jobs[job.id] = job
            if job.finished:
                self._forget_old_locked()
                self.changed.notify_all()
        self.listeners(job)

    def update_progress(self, job_id: str, progress: Progress) -> None:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None:
                self.save(replace(job, progress=progress))

    def start(self, job_id: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or job.state != "queued":
                return None
            running = job.with_state("running")
            self.save(running)
            return running

    def cancel_requested(self, job_id: str) -> bool:
        return self.stopping or self.get(job_id).cancel_requested

    def interrupting(self) -> bool:
        return self.stopping

    def _forget_old_locked(self) -> None:
        finished = [j for j in self.jobs.values() if j.finished]
        extra = len(finished) - self._keep_finished
        if extra > 0:
            finished.sort(key=lambda j: j.finished_at or 0.0)
            for job in finished[:extra]:
                del self.jobs[job.id]


class ThreadRunner:
    """In-process runner on a bounded pool; records live in memory.

    ``on_change(job)`` is called after every change of a record (progress
    included) so the persistence layer can keep what it wants, e.g. final states.
    """

    def __init__(
        self,
        tasks: TaskRegistry,
        bus: ProgressBus,
        *,
        max_workers: int = 4,
        on_change: Callable[[Job], None] | None = None,
        keep_finished: int = 500,
        tracker_factory: Callable[[], ProgressTracker] = ProgressTracker,
    ) -> None:
        self._tasks = tasks
        self.bus = bus
        self._store = _MemoryStore(on_change, keep_finished)
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="webmgr-job")
        self._tracker_factory = tracker_factory

    def add_listener(self, listener: Callable[[Job], None]) -> None:
        """See every change of a record too, after ``on_change`` (e.g. metrics)."""
        self._store.listeners.add(listener)

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
        if kind not in self._tasks:
            raise JobError(f"unknown job kind {kind!r}")
        with self._store.lock:
            for job in self._store.jobs.values():
                if dedupe_key and job.active and job.dedupe_key == dedupe_key:
                    return job
            job = Job.new(kind, params, dedupe_key=dedupe_key, retry_of=retry_of)
            self._store.save(job)
        self._pool.submit(self._run, job.id)
        return job

    def _run(self, job_id: str) -> None:
        execute(
            job_id,
            self._tasks,
            self._store,
            self.bus,
            tracker_factory=self._tracker_factory,
        )

    def get(self, job_id: str) -> Job:
        return self._store.get(job_id)

    def list(self, active_only: bool = False) -> list[Job]:
        with self._store.lock:
            jobs = list(self._store.jobs.values())
        if active_only:
            jobs = [j for j in jobs if j.active]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop; a queued one stops at once, a running one when its
        task next checks ``cancelled()``. Finished jobs are returned unchanged."""
        with self._store.lock:
            job = self._store.get(job_id)
            if job.finished:
                return job
            if job.state == "queued":
                job = job.with_state(
                    "cancelled",
                    cancel_requested=True,
                    error="cancelled",
                    error_code="cancelled",
                )
            else:
                job = replace(job, cancel_requested=True)
            self._store.save(job)
        if job.finished:
            finish(job, self.bus, self._store)
        return job

    def retry(self, job_id: str) -> Job:
        old = self._store.get(job_id)
        check_retryable(old)
        return self._submit(old.kind, old.params, old.dedupe_key, retry_of=old.id)

    def interrupt_all(self, timeout: float = 3.0) -> builtins.list[Job]:
        """The process is stopping: end every active job ``interrupted``.

        A queued job ends at once, a running one at its next cancellation check
        (a pull: its next progress line); waits for them up to ``timeout``
        seconds. The records are saved as usual (``on_change``), so the next
        start shows them interrupted and they can be retried (a pull resumes
        where Ollama left its partial download). Returns the jobs so ended.
        """
        deadline = time.monotonic() + timeout
        with self._store.lock:
            self._store.stopping = True
            active = [j.id for j in self._store.jobs.values() if j.active]
            queued = [
                self._store.jobs[i]
                for i in active
                if self._store.jobs[i].state == "queued"
            ]
        for job in queued:
            finish(
                job.with_state(
                    "interrupted", error=INTERRUPTED, error_code="interrupted"
                ),
                self.bus,
                self._store,
            )
        with self._store.changed:
            while any(
                self._store.jobs[i].active for i in active if i in self._store.jobs
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._store.changed.wait(left)
            return [self._store.jobs[i] for i in active if i in self._store.jobs]

    def restore(self, jobs: Iterable[Job]) -> builtins.list[Job]:
        """Load records kept by the store from an earlier run of the process.

        Jobs that were still active died with that process: they come back
        ``interrupted`` (and can be retried). Ids already known are skipped.
        """
        restored = []
        for job in jobs:
            if job.active:
                job = job.with_state(
                    "interrupted", error=INTERRUPTED, error_code="interrupted"
                )
            with self._store.lock:
                if job.id in self._store.jobs:
                    continue
                self._store.save(job)
            restored.append(job)
        return restored

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
