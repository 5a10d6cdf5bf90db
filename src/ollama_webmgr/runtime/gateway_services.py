"""The services of a gateway process over the store, and the gateway part of
every process that opens the store.

``ollama-webmgr gateway`` in one process (a TinyDB store, which one process
only may open) runs only the gateway: the store, the fleet, the gateway (relay,
health monitor, request recorder) and the background work
(``runtime/background.py``). Its workers under a supervisor build less still:
no store at all (``runtime/gateway.py: run_gateway_worker``). It builds ``GatewayServices`` rather than the web
process's ``runtime.services.Services``: no Ollama clients (httpx), job runner, library or
registry clients, none of which the gateway calls; its health monitor probes
with the relay's own HTTP client (``gateway/upstream.py``). That keeps it near
20 MB lighter before the first request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ollama_webmgr.cluster.changes import Versions
from ollama_webmgr.cluster.saved_fleet import load_registry
from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.stats import BatchRecorder
from ollama_webmgr.jobs.hooks import JobListeners
from ollama_webmgr.manager.duty import Duty
from ollama_webmgr.manager.model_requests import ModelRequestSink
from ollama_webmgr.manager.recording import HealthRecorder, RequestSink
from ollama_webmgr.runtime.background import Background
from ollama_webmgr.runtime.gateway import GatewayService, build_gateway
from ollama_webmgr.settings import Settings
from ollama_webmgr.store.database import DatabaseManager, open_database
from ollama_webmgr.usecases.gateway_settings import load_draining, load_gateway_config


@dataclass
class GatewayServices:
    """What a gateway-only process runs (see ``runtime.services.Services`` for the web's)."""

    settings: Settings
    db: DatabaseManager
    servers: ServerRegistry
    gateway: GatewayService
    duty: Duty
    background: Background = field(init=False)

    def __post_init__(self) -> None:
        self.background = Background(self)

    def start(self) -> None:
        """Health, records and schedule; jobs and node agents stay with the web
        processes (``Duty.stand_aside``)."""
        self.background.start(jobs=None, agents=False)

    def close(self) -> None:
        self.background.stop()
        self.db.close()


def build_gateway_services(
    settings: Settings, *, recorder: BatchRecorder | None = None
) -> GatewayServices:
    """Open the store and build the gateway over the stored fleet (starts
    nothing); ``recorder``: see ``stored_gateway``."""
    db = open_database(settings.store_url)
    servers = load_registry(settings.servers, db)
    duty = make_duty(settings)
    gateway = stored_gateway(settings, db, servers, duty, recorder=recorder)
    return GatewayServices(settings, db, servers, gateway, duty)


def make_duty(settings: Settings) -> Duty:
    """Alone, this process does the chores; with ``REDIS_URL``, one process does."""
    if not settings.redis_url:
        return Duty()
    from ollama_webmgr.redis_client import quick_connection

    return Duty(quick_connection(settings.redis_url), settings.redis_prefix)


def stored_gateway(
    settings: Settings,
    db: DatabaseManager,
    servers: ServerRegistry,
    duty: Duty,
    changes: Versions | None = None,
    *,
    recorder: BatchRecorder | None = None,
) -> GatewayService:
    """The gateway with its settings from the store, persisting checks and
    requests; ``changes``: the web cache's model versions, in a web process;
    ``recorder`` takes the request records instead (a worker hands them to its
    supervisor, ``worker_link``)."""
    config = load_gateway_config(db, GatewayConfig.from_settings(settings))
    load_draining(db, servers)
    sink = JobListeners(RequestSink(db, servers), ModelRequestSink(db, servers))
    service = build_gateway(
        settings,
        registry=servers,
        config=config,
        sink=sink,
        changes=changes,
        recorder=recorder,
    )
    service.monitor.on_check = HealthRecorder(
        db, service.app.slots.in_flight, active=lambda: duty.held
    )
    return service
