"""The services an application runs with, built once and passed explicitly.

``create_app`` stores a ``Services`` in ``app.extensions["ollama_webmgr"]``; routes
reach it through ``get_services()``, background work receives it as an argument.
Tests build their own ``Services`` (``build_services`` with a test ``Settings`` or
hand-made collaborators).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from flask import current_app

from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.jobs.bus import MemoryBus, ProgressBus
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.runner import JobRunner, ThreadRunner
from ollama_webmgr.jobs.tasks import TASKS_REF, default_registry
from ollama_webmgr.manager.cache import ModelsCache
from ollama_webmgr.manager.clients import ClientFactory, ClientPool, client_factory
from ollama_webmgr.ollama.library import LibraryClient
from ollama_webmgr.ollama.registry import RegistryClient
from ollama_webmgr.settings import Settings
from ollama_webmgr.store.database import DatabaseManager, open_database
from ollama_webmgr.store.records import record_job

EXTENSION_KEY = "ollama_webmgr"


@dataclass
class Services:
    settings: Settings
    db: DatabaseManager
    #: the fleet: configured servers plus those added in the UI
    servers: ServerRegistry
    clients: ClientPool
    runner: JobRunner
    bus: ProgressBus
    library: LibraryClient
    registry: RegistryClient
    #: ``/api/tags`` answers per server (``manager/models.py``)
    models_cache: ModelsCache = field(default_factory=ModelsCache)

    def close(self) -> None:
        """Release connections and flush the store (at shutdown, or after a test)."""
        self.clients.close()
        self.library.close()
        self.registry.close()
        self.db.close()


def job_recorder(db: DatabaseManager) -> Callable[[Job], None]:
    """``on_change`` hook keeping the final state of every job in the store."""

    def record(job: Job) -> None:
        if not job.finished:
            return
        finished = dt.datetime.fromtimestamp(job.finished_at or 0.0, dt.UTC)
        fields: dict[str, Any] = {
            "params": job.params,
            "finished_at": finished.isoformat(timespec="microseconds"),
        }
        if job.error:
            fields.update(error=job.error, error_code=job.error_code)
        record_job(db, job.id, job.kind, job.state, **fields)

    return record


def build_runner(
    settings: Settings, db: DatabaseManager | None = None
) -> tuple[JobRunner, ProgressBus]:
    """In-process jobs and progress by default; RQ + Redis Streams with REDIS_URL.

    With ``db``, in-process jobs keep their final state in its ``jobs`` table.
    """
    if not settings.redis_url:
        bus = MemoryBus()
        on_change = job_recorder(db) if db is not None else None
        return ThreadRunner(default_registry(), bus, on_change=on_change), bus
    import redis

    from ollama_webmgr.jobs.rq_runner import RQRunner

    runner = RQRunner(redis.Redis.from_url(settings.redis_url), tasks_ref=TASKS_REF)
    return runner, runner.bus


def build_services(
    settings: Settings, *, make_client: ClientFactory | None = None
) -> Services:
    """The production services for ``settings`` (opens the store)."""
    servers = ServerRegistry.from_urls(settings.servers)
    db = open_database(settings.store_url)
    runner, bus = build_runner(settings, db)
    return Services(
        settings=settings,
        db=db,
        servers=servers,
        clients=ClientPool(servers, make_client or client_factory(settings)),
        runner=runner,
        bus=bus,
        library=LibraryClient(settings.library_url),
        registry=RegistryClient(settings.registry_url),
    )


def get_services() -> Services:
    """The services of the application handling the current request."""
    return cast(Services, current_app.extensions[EXTENSION_KEY])
