"""What the supervisor of gateway workers does besides storing their records.

It owns the store, so it reads the gateway's configuration (settings, key
hashes, fleet, drained servers: ``read_snapshot``) for workers that never open
it: each new worker gets it first (``payload``), and every worker gets it again
within ``CONFIG_SYNC_EVERY`` of a change made elsewhere (the web app, the JSON
API). When the gateway keeps the history (no ``REDIS_URL``:
``deployment.gateway_keeps_history``), it also stores the health probes and
the model map its worker reports (``report``), and runs the store's upkeep
(``run_maintenance``); with Redis a gateway leaves all of that to the web
processes (``Duty.stand_aside``), as it always has.
"""

from __future__ import annotations

from collections.abc import Callable

from ollama_webmgr.runtime.deployment import gateway_keeps_history
from ollama_webmgr.runtime.schedule import (
    CONFIG_SYNC_EVERY,
    MAINTENANCE_EVERY,
    MAINTENANCE_FIRST,
    Periodic,
    Scheduler,
)
from ollama_webmgr.runtime.worker_link import (
    CHECK,
    MODELS,
    Check,
    pack_config,
    unpack_report,
)
from ollama_webmgr.settings import Settings
from ollama_webmgr.store.database import DatabaseManager
from ollama_webmgr.usecases.gateway_settings import SnapshotWatch, read_snapshot


class GatewayUpkeep:
    """``payload()``: the configuration a worker starts with; ``start(push)``:
    ``push`` gets each changed one; ``stop()``."""

    def __init__(self, settings: Settings, db: DatabaseManager) -> None:
        self._db = db
        self._days = settings.stats_retention_days
        self._watch = SnapshotWatch(db, settings.servers)
        self._payload = pack_config(read_snapshot(db, settings.servers))
        self._history = gateway_keeps_history(settings.redis_url)
        self._scheduler: Scheduler | None = None

    def payload(self) -> bytes:
        return self._payload

    def start(self, push: Callable[[bytes], None]) -> None:
        def sync() -> None:
            snapshot = self._watch.poll()
            if snapshot is not None:
                self._payload = pack_config(snapshot)
                push(self._payload)

        tasks = [Periodic("gateway configuration", CONFIG_SYNC_EVERY, sync)]
        if self._history:
            tasks.append(
                Periodic(
                    "maintenance",
                    MAINTENANCE_EVERY,
                    self._maintain,
                    first_after=MAINTENANCE_FIRST,
                )
            )
        self._scheduler = Scheduler(tasks)
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()

    def report(self, kind: int, payload: bytes) -> None:
        """Store what a worker reports (health probes, models found), when this
        gateway keeps the history; in place: this process serves nothing that
        a store write would stall."""
        if not self._history:
            return
        from ollama_webmgr.manager.reconcile import record_live_models
        from ollama_webmgr.store.records import record_server_check

        report = unpack_report(payload)
        if kind == CHECK and isinstance(report, Check):
            record_server_check(
                self._db,
                report.address,
                healthy=report.healthy,
                latency_ms=report.latency_ms,
                load=report.load,
                name=report.name,
            )
        elif kind == MODELS and isinstance(report, dict):
            record_live_models(self._db, report)

    def _maintain(self) -> None:
        # in place: this process serves nothing that a store write would stall
        from ollama_webmgr.store.stats import run_maintenance

        run_maintenance(self._db, self._days)
