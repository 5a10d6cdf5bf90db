"""The jobs' records in the store: written on each state change, read at start.

Below the runners' assembly so that both runners (the thread runner built by
the runtime, the RQ worker) keep records the same way without importing it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from ollama_webmgr.errors import JobError
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.store.database import DatabaseManager, Doc
from ollama_webmgr.store.records import record_job

log = logging.getLogger(__name__)


class JobRecorder:
    """``ThreadRunner.on_change``: keep each job's record when its state changes.

    Progress-only changes are skipped (they come many times a second).
    """

    def __init__(self, db: DatabaseManager) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}

    def __call__(self, job: Job) -> None:
        with self._lock:
            if self._states.get(job.id) == job.state:
                return
            if job.finished:
                self._states.pop(job.id, None)
            else:
                self._states[job.id] = job.state
        fields: dict[str, object] = {
            "target": job.params.get("model"),
            "server": job.params.get("server"),
            "params": job.params,
            "error": job.error,
            "error_code": job.error_code,
            "job": job.to_dict(),
        }
        if job.finished_at is not None:
            finished = dt.datetime.fromtimestamp(job.finished_at, dt.UTC)
            fields["finished_at"] = finished.isoformat(timespec="microseconds")
        record_job(self._db, job.id, job.kind, job.state, **fields)


def stored_jobs(db: DatabaseManager) -> list[Job]:
    """The jobs kept in the store, oldest first (unreadable ones skipped).

    ``JobRecorder`` keeps the whole record under ``job``; a document written
    by another writer (top-level ``kind``, ``state``, ``params``) is read too.
    """
    jobs = []
    for doc in db.find("jobs"):
        data = doc.get("job")
        if not isinstance(data, dict):
            data = _job_fields(doc)
        try:
            jobs.append(Job.from_dict(data))
        except (JobError, TypeError, ValueError) as exc:
            log.warning("skipping unreadable job %s: %s", doc.get("id"), exc)
    return jobs


def _job_fields(doc: Doc) -> Doc:
    created = dt.datetime.fromisoformat(str(doc.get("created_at"))).timestamp()
    return {
        "id": doc.get("id"),
        "kind": doc.get("kind"),
        "params": doc.get("params") or {},
        "state": doc.get("state"),
        "created_at": created,
        "error": doc.get("error"),
        "error_code": doc.get("error_code"),
    }
