"""Download settings: the bandwidth budget and the pull watchdog, set in the UI.

Kept in the ``config`` table (document ``downloads``), like the gateway's
settings; the environment's values (``PULL_STALL_TIMEOUT``,
``PULL_MAX_RESTARTS``) are the defaults until a value is saved. Every new job
reads them (``model_jobs.task_params``); the seed cache's web workers read the
per-node cap within ``_TTL`` seconds of a change.

- ``fleet_rate`` (bytes/s, None: unlimited): what the seed cache downloads
  from the registry, all pulls of the fleet together (the internet line). With
  a cap, every registry pull goes through the seed cache, even to one server.
- ``node_rate`` (bytes/s, None: unlimited): what the seed cache sends to each
  node (its address), all its parts together (the LAN side).
- ``pull_stall_timeout`` (s), ``pull_max_restarts``: the pull watchdog
  (``jobs/pull_watchdog.py``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from ollama_webmgr.errors import DownloadReason, InvalidDownloadSettings
from ollama_webmgr.ollama.bandwidth import Snapshot
from ollama_webmgr.ollama.seed_cache import SeedCache
from ollama_webmgr.settings import Settings
from ollama_webmgr.store.database import DatabaseManager, Where
from ollama_webmgr.usecases.actor import Actor, audit

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

CONFIG_KEY = "downloads"
_TTL = 2.0


@dataclass(frozen=True)
class DownloadSettings:
    fleet_rate: float | None = None
    node_rate: float | None = None
    pull_stall_timeout: float = 60.0
    pull_max_restarts: int = 3

    @classmethod
    def defaults(cls, settings: Settings) -> DownloadSettings:
        return cls(
            pull_stall_timeout=settings.pull_stall_timeout,
            pull_max_restarts=settings.pull_max_restarts,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


EDITABLE = tuple(DownloadSettings.__dataclass_fields__)


def _number(value: object) -> float | None:
    """A finite JSON number as a float (None: not one; true/false are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _reason(name: str, value: object) -> DownloadReason | None:
    """Why ``value`` cannot be setting ``name`` (None: it can)."""
    number = _number(value)
    if name not in EDITABLE:
        return "unknown_setting"
    if name in ("fleet_rate", "node_rate"):
        return None if value is None or (number or 0) > 0 else "rate"
    if name == "pull_stall_timeout":
        return None if (number or 0) > 0 else "positive_seconds"
    whole = isinstance(value, int) and not isinstance(value, bool)
    return None if whole and (number or 0) >= 0 else "integer_min_0"


def problems(changes: Mapping[str, Any]) -> dict[str, DownloadReason]:
    """Each refused setting of ``changes`` with what it expects (none: {})."""
    found = {name: _reason(name, value) for name, value in changes.items()}
    return {name: why for name, why in found.items() if why is not None}


def _stored(db: DatabaseManager) -> dict[str, Any]:
    found = db.find("config", [Where("key", "==", CONFIG_KEY)], limit=1)
    value = found[0].get("value") if found else None
    return value if isinstance(value, dict) else {}


def stored_fleet_rate(db: DatabaseManager) -> float | None:
    """The fleet cap as stored (None: unlimited), for the gateway's seeded pulls
    (``gateway_settings.read_snapshot``)."""
    rate = _stored(db).get("fleet_rate")
    return float(rate) if _reason("fleet_rate", rate) is None and rate else None


def load(db: DatabaseManager, settings: Settings) -> DownloadSettings:
    """The settings as they now are: stored values over the environment's
    (a stored value that no longer validates is skipped)."""
    stored = {
        name: value
        for name, value in _stored(db).items()
        if _reason(name, value) is None
    }
    base = DownloadSettings.defaults(settings)
    if "pull_stall_timeout" in stored:
        stored["pull_stall_timeout"] = float(stored["pull_stall_timeout"])
    return replace(base, **stored)


def current(services: Services) -> DownloadSettings:
    return load(services.db, services.settings)


def change(
    services: Services, actor: Actor, changes: Mapping[str, Any]
) -> DownloadSettings:
    """Validate and keep ``changes`` (all or nothing: ``InvalidDownloadSettings``
    names every refused one); audited when a value changed."""
    refused = problems(changes)
    if refused:
        raise InvalidDownloadSettings(refused, known=EDITABLE)
    before = current(services).as_dict()
    changed = {name: value for name, value in changes.items() if before[name] != value}
    if changed:
        values = {**before, **changed}
        services.db.upsert("config", ["key"], {"key": CONFIG_KEY, "value": values})
        audit(services.db, actor, "downloads.config", "downloads", changed)
    return current(services)


def registry_use(services: Services, values: DownloadSettings) -> Snapshot:
    """The registry downloads running now under the fleet cap ``values`` has."""
    cache = SeedCache(services.settings.seed_cache_path, rate=values.fleet_rate)
    return cache.registry_use()


class NodeRate:
    """The per-node cap as the seed cache's web workers read it: the stored
    value, read again at most every ``_TTL`` seconds."""

    def __init__(self, db: DatabaseManager, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._lock = threading.Lock()
        self._value: float | None = None
        self._read_at = -math.inf

    def __call__(self) -> float | None:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= _TTL:
                self._value = load(self._db, self._settings).node_rate
                self._read_at = now
            return self._value
