"""``GET /health``: can the application serve, and what is degraded?

Checks: ``store`` (a trivial query), ``redis`` (a ping, only when ``REDIS_URL``
is set: the runner and the progress bus live there), and one entry per enabled
Ollama server (version and latency, or the error).

Status: ``error`` and HTTP 503 when the store or Redis is down, because then no
page can be trusted and a load balancer should route elsewhere. An Ollama
server down only makes the answer ``degraded`` with HTTP 200: the app still
serves its pages, shows the server as unreachable and works with the others,
and restarting or unrouting the web app would not bring the server back.

``agents`` (``agent_report``) is informational: a node agent that stopped
answering is shown as ``stale`` but never makes the web app unhealthy.

The endpoint is open (load balancers), so it must be cheap and say little:
the Ollama probes are made at most once per ``PROBE_CACHE`` seconds, one
caller probing while the others wait for its answer; a caller without the
admin password (when one is set) gets only ``{"status": ...}``: no server
URL, error text or process id.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, current_app, jsonify

from ollama_webmgr.edge.auth import is_admin
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.repositories import ServerRecords
from ollama_webmgr.usecases.observability import agent_stale
from ollama_webmgr.usecases.probe import ask_all

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

bp = Blueprint("health", __name__)
PROBE_CACHE = 10.0  # seconds
_CACHE_KEY = "ollama_webmgr.health"
Probes = list[dict[str, Any]]


class ProbeCache:
    """The last probe results, per set of servers, for ``PROBE_CACHE`` seconds."""

    def __init__(self, ttl: float = PROBE_CACHE) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._key: object = None
        self._at = 0.0
        self._value: Probes = []

    def get(self, key: object, probe: Callable[[], Probes]) -> Probes:
        with self._lock:  # one caller probes, the others wait for its answer
            now = time.monotonic()
            if key != self._key or now - self._at > self.ttl:
                self._value = probe()
                self._key, self._at = key, time.monotonic()
            return self._value


def _timed(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def check_store(services: Services) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        services.db.ping()
    except Exception as exc:  # any failure of the store is the answer itself
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "latency_ms": _timed(started)}


def check_redis(services: Services) -> dict[str, Any] | None:
    """None when Redis is not configured (nothing to check)."""
    url = services.settings.redis_url
    if not url:
        return None
    import redis

    started = time.perf_counter()
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()
    return {"ok": True, "latency_ms": _timed(started)}


def check_ollama(services: Services) -> list[dict[str, Any]]:
    results = []
    for outcome in ask_all(
        services.servers.active(), lambda c: c.version(), services.clients
    ):
        entry: dict[str, Any] = {
            "server": outcome.server.name,
            "url": outcome.server.url,
            "ok": outcome.ok,
            "latency_ms": outcome.latency_ms,
        }
        if outcome.error is None:
            entry["version"] = outcome.value
        else:
            entry["error"] = str(outcome.error)
        results.append(entry)
    return results


def run_checks(services: Services) -> tuple[str, dict[str, Any]]:
    """Overall status (``ok``/``degraded``/``error``) and every check."""
    checks: dict[str, Any] = {"store": check_store(services)}
    redis_check = check_redis(services)
    if redis_check is not None:
        checks["redis"] = redis_check
    checks["ollama"] = _cached_probes(services)
    if not all(checks[name]["ok"] for name in ("store", "redis") if name in checks):
        return "error", checks
    if not all(entry["ok"] for entry in checks["ollama"]):
        return "degraded", checks
    return "ok", checks


def _cached_probes(services: Services) -> Probes:
    cache: ProbeCache = current_app.extensions.setdefault(_CACHE_KEY, ProbeCache())
    key = tuple((s.name, s.url) for s in services.servers.active())
    return cache.get(key, lambda: check_ollama(services))


def agent_report(services: Services, now: float | None = None) -> dict[str, object]:
    """Per server with an agent: ``reachable`` or ``stale`` (with the last error)."""
    when = time.time() if now is None else now
    try:
        records = ServerRecords(services.db).with_agent()
    except StoreError as exc:
        return {"error": f"store: {exc.message}"}
    report: dict[str, object] = {}
    for record in records:
        info = record.hardware
        entry: dict[str, object] = {
            "agent": record.agent_address,
            "state": "stale" if agent_stale(info, when) else "reachable",
            "collected_at": info.get("collected_at"),
        }
        if info.get("last_error"):
            entry["last_error"] = info["last_error"]
        report[record.label] = entry
    return report


@bp.get("/health")
def health() -> Response:
    services = get_services()
    status, checks = run_checks(services)
    if is_admin():
        # ``pid``: which worker answered (``--workers``) or behind a load balancer
        response = jsonify(
            status=status,
            checks=checks,
            agents=agent_report(services),
            pid=os.getpid(),
        )
    else:
        response = jsonify(status=status)
    response.status_code = 503 if status == "error" else 200
    response.cache_control.no_store = True
    return response
