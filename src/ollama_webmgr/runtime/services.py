"""The services an application runs with, built once and passed explicitly.

``create_app`` installs a ``Services`` in the Flask app (``edge/services.py``);
routes reach it through ``get_services()``, background work receives it as an
argument.
Tests build their own ``Services`` (``build_services`` with a test ``Settings`` or
hand-made collaborators).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from ollama_webmgr.cluster.clients import ClientFactory, ClientPool
from ollama_webmgr.cluster.saved_fleet import load_registry
from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.jobs.bus import MemoryBus, ProgressBus
from ollama_webmgr.jobs.records import JobRecorder
from ollama_webmgr.jobs.runner import JobRunner, ThreadRunner
from ollama_webmgr.jobs.tasks import TASKS_REF, default_registry
from ollama_webmgr.manager.cache import ModelsCache
from ollama_webmgr.manager.clients import client_factory
from ollama_webmgr.manager.duty import Duty
from ollama_webmgr.ollama.library import LibraryClient
from ollama_webmgr.ollama.registry import RegistryClient
from ollama_webmgr.runtime.background import Background
from ollama_webmgr.runtime.gateway import GatewayService, model_changes
from ollama_webmgr.runtime.gateway_services import make_duty, stored_gateway
from ollama_webmgr.settings import Settings
from ollama_webmgr.store.database import DatabaseManager, open_database
from ollama_webmgr.usecases.models import job_finished

if TYPE_CHECKING:
    from collections.abc import Callable

    from ollama_webmgr.gateway.stats import BatchRecorder
    from ollama_webmgr.jobs.context import TaskRegistry
    from ollama_webmgr.jobs.model import Job


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
    #: the Ollama-compatible gateway over the same ``servers`` (its WSGI app,
    #: health monitor and request recorder); served by ``serve`` / ``gateway``
    gateway: GatewayService
    #: ``/api/tags`` answers per server (``usecases/models.py``)
    models_cache: ModelsCache = field(default_factory=ModelsCache)
    #: whether this process does the once-per-fleet chores (``manager/duty.py``)
    duty: Duty = field(default_factory=Duty)
    background: Background = field(init=False)

    def __post_init__(self) -> None:
        self.background = Background(self)

    def start(self, *, jobs: bool = True, agents: bool = True) -> None:
        """Start the background parts (restore jobs, health, records, schedule)."""
        self.background.start(jobs=self.runner if jobs else None, agents=agents)

    def stop(self) -> None:
        """Stop the background parts and flush queued records (idempotent)."""
        self.background.stop()

    def interrupt_jobs(self, timeout: float = 2.0) -> None:
        """The process is stopping: running jobs end ``interrupted`` now rather
        than holding the exit until their download ends (with RQ, the workers
        keep running them)."""
        if isinstance(self.runner, ThreadRunner):
            self.runner.interrupt_all(timeout)

    def close(self) -> None:
        """Release connections and flush the store (at shutdown, or after a test)."""
        # a running pull would hold the process's exit until its download ends
        self.interrupt_jobs()
        self.stop()
        if isinstance(self.runner, ThreadRunner):
            self.runner.shutdown(wait=False)
        self.clients.close()
        self.library.close()
        self.registry.close()
        self.db.close()


def build_runner(
    settings: Settings,
    *,
    tasks: TaskRegistry | None = None,
    on_change: Callable[[Job], None] | None = None,
) -> tuple[JobRunner, ProgressBus]:
    """In-process jobs and progress by default; RQ + Redis Streams with REDIS_URL.

    ``on_change`` sees every state change of a job record. With RQ it sees the
    changes made in this process; the workers record theirs (running, final)
    into the store at ``settings.store_url`` themselves.
    """
    if not settings.redis_url:
        bus = MemoryBus()
        registry = default_registry() if tasks is None else tasks
        return ThreadRunner(registry, bus, on_change=on_change), bus
    import redis

    from ollama_webmgr.jobs.rq_runner import RQRunner

    runner = RQRunner(
        redis.Redis.from_url(settings.redis_url),
        tasks_ref=TASKS_REF,
        prefix=settings.redis_prefix,
        queue=settings.job_queue,
        on_change=on_change,
        store_url=settings.store_url,
    )
    return runner, runner.bus


def build_services(
    settings: Settings,
    *,
    make_client: ClientFactory | None = None,
    tasks: TaskRegistry | None = None,
    recorder: BatchRecorder | None = None,
) -> Services:
    """The production services for ``settings`` (opens the store; starts nothing).

    ``tasks`` replaces the job kinds (tests); ``recorder`` takes the gateway's
    request records (a worker's, ``worker_link``); ``Services.start()`` starts
    the background parts.
    """
    db = open_database(settings.store_url)
    # The configured servers plus those added in the UI (cluster/saved_fleet.py).
    servers = load_registry(settings.servers, db)
    runner, bus = build_runner(settings, tasks=tasks, on_change=JobRecorder(db))
    duty = make_duty(settings)
    models_cache = _models_cache(settings)
    # one set of model versions: a write through the web app is seen by the
    # gateway, and one through the gateway by the web app (cluster/changes.py)
    gateway = stored_gateway(
        settings, db, servers, duty, models_cache.versions, recorder=recorder
    )
    gateway.monitor.job_finished = partial(job_finished, runner)
    return Services(
        settings=settings,
        db=db,
        servers=servers,
        clients=ClientPool(servers, make_client or client_factory(settings)),
        runner=runner,
        bus=bus,
        library=LibraryClient(settings.library_url),
        registry=RegistryClient(settings.registry_url),
        gateway=gateway,
        models_cache=models_cache,
        duty=duty,
    )


def _models_cache(settings: Settings) -> ModelsCache:
    """Per process; with ``REDIS_URL`` what makes an entry stale is shared."""
    return ModelsCache(versions=model_changes(settings))
