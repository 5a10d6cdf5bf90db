"""What the running product writes to the store: checks, requests, jobs.

Each writer is a small callable handed to the part that produces the facts
(the health monitor, the gateway's ``BatchRecorder``, the job runner), so those
parts stay free of persistence code.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.errors import JobError
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.off_hub import off_hub
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.database import DatabaseManager, Doc, Sample
from ollama_webmgr.store.records import record_job, record_server_check
from ollama_webmgr.store.stats import (
    record_samples,
    request_detail_samples,
    request_samples,
)

log = logging.getLogger(__name__)

#: gateway request kind -> request type of ``store.stats``
REQUEST_TYPES = {"generate": "generate", "chat": "chat", "embed": "embedding"}


class HealthRecorder:
    """``HealthMonitor.on_check``: one ``record_server_check`` per probe.

    ``load`` is the number of gateway requests running on the server. Nothing
    is written while ``active()`` is false (another process keeps the history).
    """

    def __init__(
        self,
        db: DatabaseManager,
        in_flight: Callable[[str], int] | None = None,
        *,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self._db = db
        self._in_flight = in_flight
        self._active = active

    def __call__(self, server: Server, ok: bool, latency_ms: float) -> None:
        if not self._active():
            return
        load = self._in_flight(server.name) if self._in_flight else None
        off_hub(
            self._db,
            record_server_check,
            display_address(server.url),
            healthy=ok,
            latency_ms=round(latency_ms, 3) if ok else None,
            load=None if load is None else float(load),
            name=server.name,
        )


class RequestSink:
    """``BatchRecorder`` sink: request counts by type (with errors, tokens and
    bytes) plus per-server latencies.

    Per server (by its store address, ``host:port``): ``request_latency`` and ``ttft`` samples in ms.
    """

    def __init__(self, db: DatabaseManager, registry: ServerRegistry) -> None:
        self._db = db
        self._registry = registry

    def __call__(self, records: Sequence[RequestRecord]) -> None:
        """One transaction for the whole batch."""
        samples = request_samples(
            (REQUEST_TYPES.get(r.kind, "other"), r.latency_ms, r.started_at)
            for r in records
        )
        samples += request_detail_samples(
            [
                (
                    r.started_at,
                    r.status,
                    r.prompt_tokens,
                    r.completion_tokens,
                    r.bytes_in,
                    r.bytes_out,
                )
                for r in records
            ]
        )
        urls = {s.name: display_address(s.url) for s in self._registry.all()}
        for record in records:
            url = urls.get(record.server or "")
            if url is None:  # answered by the gateway or by several servers
                continue
            samples.append(
                Sample(url, "request_latency", record.started_at, record.latency_ms)
            )
            if record.ttft_ms is not None:
                samples.append(Sample(url, "ttft", record.started_at, record.ttft_ms))
        off_hub(self._db, record_samples, samples)


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
