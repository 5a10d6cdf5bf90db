"""What the running product writes to the store: checks, requests, jobs.

Each writer is a small callable handed to the part that produces the facts
(the health monitor, the gateway's ``BatchRecorder``, the job runner), so those
parts stay free of persistence code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.jobs.recording import JobRecorder, stored_jobs
from ollama_webmgr.off_hub import off_hub
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.database import DatabaseManager, Sample
from ollama_webmgr.store.records import record_server_check
from ollama_webmgr.store.stats import (
    record_samples,
    request_detail_samples,
    request_samples,
)

__all__ = [
    "HealthRecorder",
    "JobRecorder",
    "RequestSink",
    "stored_jobs",
]  # the job records live in jobs/recording.py (the RQ worker keeps them too)

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
