"""The supervisor stores the request records its gateway workers send it.

Storing a second's worth of records takes milliseconds of Python (samples built,
SQLAlchemy, the driver). In a serving process that time is taken from requests:
a greenlet holds the event loop, or an OS thread competes for the GIL, which
the event loop's thread then waits for (up to ``sys.getswitchinterval()`` each
time). So workers only pickle their records into a pipe (``worker_link``), and
the supervisor, which serves nothing, writes them with the same sinks as a
single process does (``RequestSink``, ``ModelRequestSink``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ollama_webmgr.cluster.saved_fleet import load_registry, reload_registry
from ollama_webmgr.gateway.stats import BatchRecorder, RequestRecord
from ollama_webmgr.jobs.hooks import JobListeners
from ollama_webmgr.manager.model_requests import ModelRequestSink
from ollama_webmgr.manager.recording import RequestSink
from ollama_webmgr.settings import Settings
from ollama_webmgr.store.database import DatabaseManager


class RecordWriter:
    """Batches records from every worker into the store (``start``, ``close``)."""

    def __init__(self, settings: Settings, db: DatabaseManager) -> None:
        self._configured = settings.servers
        self._db = db
        self._servers = load_registry(settings.servers, self._db)
        self._sinks = JobListeners(
            RequestSink(self._db, self._servers),
            ModelRequestSink(self._db, self._servers),
        )
        self._recorder = BatchRecorder(self._write)

    def start(self) -> None:
        self._recorder.start()

    def add(self, records: Sequence[RequestRecord]) -> None:
        for record in records:
            self._recorder.submit(record)

    def close(self) -> None:
        """Store what is pending (the caller closes the store)."""
        self._recorder.stop()

    def _write(self, records: Sequence[RequestRecord]) -> None:
        # servers renamed or added in the UI since the last batch
        reload_registry(self._servers, self._configured, self._db)
        self._sinks(records)
