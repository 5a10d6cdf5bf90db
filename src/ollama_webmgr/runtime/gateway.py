"""Build the gateway (``services`` does it for ``serve``) and run it alone
(``gateway``): as one process over the store (``run_gateway``), or as a worker
of a supervisor that hands it its configuration (``run_gateway_worker``)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ollama_webmgr.cluster.changes import LocalVersions, RedisVersions, Versions
from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.gateway.app import Gateway, create_gateway_app
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.seeding import SeedSource
from ollama_webmgr.gateway.snapshot import apply_snapshot
from ollama_webmgr.gateway.stats import BatchRecorder, RequestRecord
from ollama_webmgr.gateway.upstream import Upstreams

if TYPE_CHECKING:
    from collections.abc import Sequence

    from _typeshed.wsgi import WSGIApplication

    from ollama_webmgr.gateway.limiter import SlotTable
    from ollama_webmgr.runtime.schedule import Scheduler
    from ollama_webmgr.runtime.serving import Server
    from ollama_webmgr.runtime.worker_link import SupervisorLink
    from ollama_webmgr.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class GatewayService:
    """The gateway app with its background parts; ``start``/``stop`` them together."""

    app: Gateway
    monitor: HealthMonitor
    recorder: BatchRecorder

    def start(self) -> None:
        self.monitor.start()
        self.recorder.start()

    def stop(self) -> None:
        self.monitor.stop()
        self.recorder.stop()
        self.app.close()


def _log_sink(records: Sequence[RequestRecord]) -> None:
    log.debug("gateway: %d requests", len(records))


def build_gateway(
    settings: Settings,
    *,
    registry: ServerRegistry | None = None,
    config: GatewayConfig | None = None,
    sink: Callable[[Sequence[RequestRecord]], None] = _log_sink,
    changes: Versions | None = None,
    recorder: BatchRecorder | None = None,
) -> GatewayService:
    """Servers from ``Settings.servers`` unless a registry is given; ``changes``:
    the model versions shared with the web cache (``cluster/changes.py``), the
    process's own unless given; request records go to ``sink`` by batches, or
    to ``recorder`` when given."""
    config = config or GatewayConfig.from_settings(settings)
    registry = registry or ServerRegistry.from_urls(settings.servers)
    changes = changes or model_changes(settings)
    upstreams = Upstreams()  # one HTTP client for the relay and the probes
    monitor = HealthMonitor(
        registry, ModelMap(), config, changes=changes, clients=upstreams
    )
    recorder = recorder or BatchRecorder(sink)
    app = create_gateway_app(
        config,
        registry,
        monitor,
        on_request=recorder.submit,
        slots=_slots(settings),
        upstreams=upstreams,
        seed_source=seed_source(settings),
    )
    return GatewayService(app, monitor, recorder)


def seed_source(settings: Settings) -> SeedSource:
    """The web app's seed cache: same data dir, served at ``SEED_CACHE_URL``."""
    return SeedSource(
        settings.seed_cache_path, settings.seed_cache_address, settings.registry_url
    )


def model_changes(settings: Settings) -> Versions:
    """With ``REDIS_URL`` a write through any process is seen by every other."""
    if not settings.redis_url:
        return LocalVersions()
    from ollama_webmgr.redis_client import quick_connection

    return RedisVersions(quick_connection(settings.redis_url), settings.redis_prefix)


def _slots(settings: Settings) -> SlotTable | None:
    """With ``REDIS_URL`` the limits hold across every gateway process."""
    if not settings.redis_url:
        return None
    from ollama_webmgr.gateway.redis_slots import RedisSlots
    from ollama_webmgr.redis_client import quick_connection

    return RedisSlots(quick_connection(settings.redis_url), settings.redis_prefix)


def run_gateway(
    settings: Settings,
    host: str,
    port: int,
    make_server: Callable[[WSGIApplication, str, int], Server] | None = None,
    *,
    recorder: BatchRecorder | None = None,
) -> None:
    """Serve the gateway alone in this process until SIGINT/SIGTERM (the CLI
    has monkey-patched): on a TinyDB store, which one process only may open,
    and in the benchmarks' variants.

    It shares the store with the web app: settings and API keys edited in the
    UI apply within seconds; checks and requests are recorded. Jobs and the
    node agents are left to the web app's process. ``make_server``: the
    gateway's own server unless given (the benchmarks compare it with pywsgi);
    ``recorder``: where request records go (the store by default).
    """
    from ollama_webmgr.runtime.gateway_services import build_gateway_services
    from ollama_webmgr.runtime.serving import (
        display_url,
        ensure_descriptors,
        make_gateway_server,
        wait_for_signal,
    )

    services = build_gateway_services(settings, recorder=recorder)
    app = services.gateway.app
    server: Server = (
        make_gateway_server(app, host, port, settings)
        if make_server is None
        else make_server(app, host, port)
    )
    try:
        server.start()  # bound now: port 0 has become a real port
        ensure_descriptors(1, settings)
        services.start()
    except BaseException:
        services.close()
        raise
    url = display_url(host, server.server_port).rstrip("/")
    print(f"ollama-webmgr gateway on {url}", flush=True)
    wait_for_signal([server], services.close)


def run_gateway_worker(
    settings: Settings,
    host: str,
    port: int,
    link: SupervisorLink,
    listener: socket.socket,
) -> None:
    """One worker of ``ollama-webmgr gateway`` until SIGTERM or its supervisor's
    end: it serves ``listener`` and nothing else. Its settings, keys, fleet and
    drained servers come from the supervisor (first before anything is built,
    then each change: ``worker_link``), its records go back to it, and it never
    opens the store nor does any chore: when the gateway keeps the history (no
    Redis), it reports its probes for the supervisor to store
    (``runtime/gateway_upkeep.py``)."""
    from ollama_webmgr.runtime.deployment import gateway_keeps_history
    from ollama_webmgr.runtime.serving import (
        ensure_descriptors,
        make_gateway_server,
        wait_for_signal,
    )

    config = GatewayConfig.from_settings(settings)
    registry = ServerRegistry()
    apply_snapshot(link.first_config(), config, registry)
    service = build_gateway(
        settings, registry=registry, config=config, recorder=link.recorder()
    )
    history = gateway_keeps_history(settings.redis_url)
    if history:  # the supervisor stores the probes
        service.monitor.on_check = link.check_reporter(service.app.slots.in_flight)
    server = make_gateway_server(service.app, host, port, settings, listener)
    try:
        server.start()
        ensure_descriptors(1, settings)
        service.start()  # the first health round runs now
    except BaseException:
        service.stop()
        raise
    reports = _report_history(settings, link, service) if history else None
    link.ready()
    link.stop_when_lost(on_config=lambda new: apply_snapshot(new, config, registry))

    def stop() -> None:
        if reports is not None:
            reports.stop()
        service.stop()

    wait_for_signal([server], stop)


def _report_history(
    settings: Settings, link: SupervisorLink, service: GatewayService
) -> Scheduler:
    """Send the models the first round found, then every ``MODEL_MAP_EVERY``
    (the probes themselves go as they come: ``check_reporter``)."""
    from ollama_webmgr.cluster.live_models import answered_models
    from ollama_webmgr.runtime.schedule import MODEL_MAP_EVERY, Periodic, Scheduler

    registry, monitor = service.app.registry, service.monitor

    def send() -> None:
        link.send_models(answered_models(registry, monitor))

    send()
    reports = Scheduler([Periodic("model map", MODEL_MAP_EVERY, send)])
    reports.start()
    return reports
