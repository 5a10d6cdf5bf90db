"""What the supervisor of gateway workers does besides storing their records.

It owns the store, so it reads the gateway's configuration (settings, key
hashes, fleet, drained servers: ``read_snapshot``) for workers that never open
it: each new worker gets it first (``payload``), and every worker gets it again
within ``CONFIG_SYNC_EVERY`` of a change made elsewhere (the web app, the JSON
API). It also runs the store's upkeep when no other process can: without
``REDIS_URL``, the retention and roll-ups (``run_maintenance``); with it, a
gateway leaves every chore to the web processes (``Duty.stand_aside``), as it
always has. The history drawn from health probes (checks, model map) is the
web processes' too: they probe the same servers.
"""

from __future__ import annotations

from collections.abc import Callable

from ollama_webmgr.runtime.schedule import (
    CONFIG_SYNC_EVERY,
    MAINTENANCE_EVERY,
    MAINTENANCE_FIRST,
    Periodic,
    Scheduler,
)
from ollama_webmgr.runtime.worker_link import pack_config
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
        self._maintenance = not settings.redis_url
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
        if self._maintenance:
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

    def _maintain(self) -> None:
        # in place: this process serves nothing that a store write would stall
        from ollama_webmgr.store.stats import run_maintenance

        run_maintenance(self._db, self._days)
