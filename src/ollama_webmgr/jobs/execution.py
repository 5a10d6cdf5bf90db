"""Running one job: the lifecycle shared by the thread runner and RQ workers.

queued → running → done | error | cancelled. Terminal events carry ``state`` so a
page can tell a success (``done``) from an error, a cancel or an interruption (all
sent as ``error``). The terminal event is published before the final record is
saved: a reader that sees a finished job can always replay its last event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from ollama_webmgr.errors import WebmgrError
from ollama_webmgr.jobs.bus import ProgressBus
from ollama_webmgr.jobs.context import JobCancelled, ProgressTracker, TaskRegistry
from ollama_webmgr.jobs.model import Job, JobState, Progress
from ollama_webmgr.logging_setup import job_id_var

log = logging.getLogger(__name__)

INTERRUPTED = "the application stopped while this job ran"


class JobStore(Protocol):
    def start(self, job_id: str) -> Job | None:
        """Atomically move a queued job to running; ``None`` if it is not queued."""
        ...

    def save(self, job: Job) -> None: ...

    def update_progress(self, job_id: str, progress: Progress) -> None:
        """Store the snapshot only: a cancel request saved meanwhile must stay."""
        ...

    def cancel_requested(self, job_id: str) -> bool: ...

    def interrupting(self) -> bool:
        """The process is stopping: a task that stops now is ``interrupted``
        (retryable), not ``cancelled`` by a person."""
        ...


def final_event(job: Job) -> tuple[str, dict[str, Any]]:
    """The terminal bus event that describes a finished job."""
    if job.state == "done":
        return "done", {"state": "done", "result": job.result}
    return "error", {
        "state": job.state,
        "code": job.error_code or job.state,
        "message": job.error or "",
    }


def finish(job: Job, bus: ProgressBus, store: JobStore) -> Job:
    kind, data = final_event(job)
    bus.publish_last(job.id, kind, data)
    store.save(job)
    return job


class RunningContext:
    """The ``TaskContext`` handed to a task while its job runs."""

    def __init__(
        self,
        job: Job,
        store: JobStore,
        bus: ProgressBus,
        tracker: ProgressTracker,
    ) -> None:
        self.job_id = job.id
        self.job = job
        self._store = store
        self._bus = bus
        self._tracker = tracker

    def report(self, type: str, data: dict[str, Any]) -> None:
        payload = self._tracker.update(type, data)
        self.job = replace(self.job, progress=self._tracker.snapshot)
        if payload is None:
            return
        self._bus.publish(self.job_id, type, payload)
        self._store.update_progress(self.job_id, self.job.progress)

    def cancelled(self) -> bool:
        return self._store.cancel_requested(self.job_id)

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled(self.job_id)


def execute(
    job_id: str,
    tasks: TaskRegistry,
    store: JobStore,
    bus: ProgressBus,
    *,
    tracker_factory: Callable[[], ProgressTracker] = ProgressTracker,
) -> Job | None:
    """Run a queued job to its end; ``None`` when it was no longer queued.

    Log lines written meanwhile carry the job's id (``job_id`` in the JSON logs).
    """
    token = job_id_var.set(job_id)
    try:
        return _execute(job_id, tasks, store, bus, tracker_factory)
    finally:
        job_id_var.reset(token)


def _execute(
    job_id: str,
    tasks: TaskRegistry,
    store: JobStore,
    bus: ProgressBus,
    tracker_factory: Callable[[], ProgressTracker],
) -> Job | None:
    job = store.start(job_id)
    if job is None:
        return None
    task = tasks.get(job.kind)
    if task is None:
        failed = job.with_state("error", error=f"unknown job kind {job.kind!r}")
        return finish(failed, bus, store)
    bus.publish(job.id, "status", {"state": "running"})
    ctx = RunningContext(job, store, bus, tracker_factory())
    state: JobState = "done"
    changes: dict[str, Any] = {}
    try:
        result = task(dict(job.params), ctx)
        json.dumps(result)  # the record travels as JSON: fail here, not later
        changes["result"] = result
    except JobCancelled:
        if store.interrupting():
            state = "interrupted"
            changes.update(error=INTERRUPTED, error_code="interrupted")
        else:
            state = "cancelled"
            changes.update(error="cancelled", error_code="cancelled")
    except WebmgrError as exc:
        state = "error"
        changes.update(error=str(exc), error_code=exc.code)
    except Exception as exc:  # a task bug must not kill the worker thread
        log.exception("job %s (%s) failed", job.id, job.kind)
        state = "error"
        changes.update(error=f"{type(exc).__name__}: {exc}", error_code="internal")
    changes["cancel_requested"] = state == "cancelled" or (
        state != "interrupted" and store.cancel_requested(job.id)
    )
    return finish(ctx.job.with_state(state, **changes), bus, store)
