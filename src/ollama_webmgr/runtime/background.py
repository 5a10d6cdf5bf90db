"""The background parts of a running product, started and stopped together.

``Background.start()``: restore stored jobs (active ones come back
``interrupted``), start the gateway's health monitor (one synchronous round) and
request recorder, reconcile the store with the live fleet, then run periodic
work on one thread: store maintenance (hourly: request roll-ups and retention),
the model map (every 5 minutes), and the fleet and gateway settings edited by
another process (every 5 seconds); and the node agents' hardware
(``HARDWARE_INTERVAL``). With several processes, only the one on duty
(``manager/duty.py``) writes the maintenance, the model map, the health history
and the hardware.
``stop()`` ends them and flushes queued request records.
``create_app`` never starts them, so tests stay free of side effects.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from ollama_webmgr.gateway.snapshot import apply_snapshot
from ollama_webmgr.manager.reconcile import (
    ReconcileReport,
    reconcile,
    restore_jobs,
    sync_model_map,
)
from ollama_webmgr.off_hub import off_hub
from ollama_webmgr.runtime.schedule import (
    CONFIG_SYNC_EVERY,
    MAINTENANCE_EVERY,
    MAINTENANCE_FIRST,
    MODEL_MAP_EVERY,
    Periodic,
    Scheduler,
)
from ollama_webmgr.store.stats import run_maintenance
from ollama_webmgr.usecases import gateway_settings

if TYPE_CHECKING:
    from ollama_webmgr.cluster.hardware import HardwareCollector
    from ollama_webmgr.cluster.servers import ServerRegistry
    from ollama_webmgr.jobs.runner import JobRunner
    from ollama_webmgr.manager.duty import Duty
    from ollama_webmgr.runtime.gateway import GatewayService
    from ollama_webmgr.settings import Settings
    from ollama_webmgr.store.database import DatabaseManager

log = logging.getLogger(__name__)

DUTY_RENEW_EVERY = 5.0  # well within the lease (manager/duty.py)


class Parts(Protocol):
    """What the background work uses: ``runtime.services.Services`` of the web process,
    ``runtime.gateway_services.GatewayServices`` of a gateway alone."""

    settings: Settings
    db: DatabaseManager
    servers: ServerRegistry
    gateway: GatewayService
    duty: Duty


class ConfigSync:
    """Reload the fleet, the gateway settings, keys and drained servers when
    another process changed them (several web workers, separate gateways): the
    same snapshot a supervisor pushes to its gateway workers."""

    def __init__(self, services: Parts) -> None:
        self._services = services
        self._watch = gateway_settings.SnapshotWatch(
            services.db, services.settings.servers
        )

    def __call__(self) -> None:
        snapshot = self._watch.poll()
        if snapshot is not None:
            apply_snapshot(
                snapshot, self._services.gateway.app.config, self._services.servers
            )


class Background:
    """Everything ``serve``, ``gateway`` and ``demo`` run besides the servers."""

    def __init__(self, services: Parts) -> None:
        self.services = services
        self.report: ReconcileReport | None = None
        self._scheduler: Scheduler | None = None
        self._hardware: HardwareCollector | None = None
        self._started = False

    def start(
        self, *, jobs: JobRunner | None = None, agents: bool = True
    ) -> ReconcileReport:
        """``jobs``: the runner to give the stored jobs back to; without one (the
        gateway alone) the job records are left to the web process that owns
        them. ``agents=False`` leaves it the node agents too (one poller is
        enough, and gRPC costs the gateway ~10 MB of memory)."""
        services = self.services
        gateway = services.gateway
        duty = services.duty
        if not agents:
            duty.stand_aside()  # the web processes do the chores, agents included
        duty.renew()
        interrupted = restore_jobs(services.db, jobs) if jobs is not None else []
        gateway.start()  # the first health round runs now, recorded
        self.report = reconcile(services.db, services.servers, gateway.monitor)
        self.report.interrupted = interrupted
        days = services.settings.stats_retention_days
        self._scheduler = Scheduler(
            [
                Periodic("duty lease", DUTY_RENEW_EVERY, duty.renew),
                Periodic(
                    "maintenance",
                    MAINTENANCE_EVERY,
                    lambda: duty.held and off_hub(services.db, run_maintenance, days),
                    first_after=MAINTENANCE_FIRST,
                ),
                Periodic(
                    "model map",
                    MODEL_MAP_EVERY,
                    lambda: (
                        duty.held
                        and sync_model_map(
                            services.db, services.servers, gateway.monitor
                        )
                    ),
                ),
                Periodic("shared settings", CONFIG_SYNC_EVERY, ConfigSync(services)),
            ]
        )
        self._scheduler.start()
        self._hardware = _hardware_collector(services) if agents else None
        if self._hardware is not None:
            self._hardware.start()
        self._started = True
        return self.report

    def stop(self) -> None:
        """Stop the periodic work, the monitor, and flush the request records."""
        if not self._started:
            return
        self._started = False
        if self._scheduler is not None:
            self._scheduler.stop()
        if self._hardware is not None:
            self._hardware.stop()
        self.services.gateway.stop()
        self.services.duty.release()


def _hardware_collector(services: Parts) -> HardwareCollector | None:
    """Ask the node agents every ``HARDWARE_INTERVAL`` (needs the ``agent`` extra)."""
    from ollama_webmgr.cluster.hardware import HardwareCollector, optional_grpc_factory

    factory = optional_grpc_factory(token=services.settings.agent_token)
    if factory is None:
        return None
    return HardwareCollector(
        services.db,
        factory,
        interval=services.settings.hardware_interval,
        active=lambda: services.duty.held,
    )
