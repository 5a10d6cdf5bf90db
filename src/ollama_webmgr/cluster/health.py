"""Health of every server: active probes, passive signals, circuit breakers.

Each server has a ``CircuitBreaker`` with hysteresis: ``failures_to_down``
consecutive failures mark it down; while down it is probed again after an
exponential backoff; ``successes_to_up`` consecutive successful probes bring it
back. Real traffic feeds the same breaker (``record_success``/``record_failure``).

One background thread probes ``/api/version`` and refreshes ``/api/tags`` and
``/api/ps`` of every enabled server each ``health_interval`` seconds, through
the process's own HTTP client (``clients``: the gateway's ``Upstreams``).

>>> breaker = CircuitBreaker(Policy(failures_to_down=2, successes_to_up=2), clock=lambda: 0.0)
>>> breaker.failure(); breaker.healthy
True
>>> breaker.failure(); breaker.healthy
False
>>> breaker.success(); breaker.healthy
False
>>> breaker.success(); breaker.healthy
True
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ollama_webmgr.cluster.changes import LocalVersions, Versions, settle
from ollama_webmgr.cluster.models import ModelMap
from ollama_webmgr.cluster.servers import Server, ServerRegistry

log = logging.getLogger(__name__)
Clock = Callable[[], float]
#: called after each probe with the server, its outcome and the probe's duration (ms)
CheckObserver = Callable[[Server, bool, float], None]


class ProbeClient(Protocol):
    """The HTTP client of one server, as far as the probes use it."""

    def get_json(self, path: str, *, connect: float, read: float) -> dict[str, Any]:
        """The JSON object of a 200 answer; ``OSError``/``ValueError`` otherwise."""
        ...


class HealthPolicy(Protocol):
    health_interval: float
    health_timeout: float
    failures_to_down: int
    successes_to_up: int
    backoff_max: float


@dataclass
class Policy:
    """A plain ``HealthPolicy`` (``GatewayConfig`` is another one)."""

    health_interval: float = 5.0
    health_timeout: float = 2.0
    failures_to_down: int = 3
    successes_to_up: int = 2
    backoff_max: float = 60.0


class CircuitBreaker:
    def __init__(self, policy: HealthPolicy, *, clock: Clock = time.monotonic) -> None:
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self.healthy = True  # optimistic until the first probe says otherwise
        self.failures = 0
        self.successes = 0
        self._backoff = 0.0
        self._next_probe = 0.0
        self.last_error = ""

    def success(self) -> None:
        with self._lock:
            self.failures = 0
            if self.healthy:
                return
            self.successes += 1
            self._backoff = 0.0
            self._next_probe = 0.0
            if self.successes >= self._policy.successes_to_up:
                self.healthy, self.successes = True, 0

    def failure(self, error: str = "") -> None:
        with self._lock:
            self.last_error = error or self.last_error
            self.successes = 0
            self.failures += 1
            if self.healthy and self.failures >= self._policy.failures_to_down:
                self.healthy = False
            if not self.healthy:
                base = max(self._policy.health_interval, 0.1)
                self._backoff = min(
                    self._backoff * 2 or base, max(self._policy.backoff_max, base)
                )
                self._next_probe = self._clock() + self._backoff

    def probe_due(self) -> bool:
        """Healthy servers are probed every round; down ones after their backoff."""
        with self._lock:
            return self.healthy or self._clock() >= self._next_probe


class HealthMonitor:
    def __init__(
        self,
        registry: ServerRegistry,
        models: ModelMap,
        policy: HealthPolicy,
        *,
        clients: Callable[[str], ProbeClient],
        clock: Clock = time.monotonic,
        on_check: CheckObserver | None = None,
        changes: Versions | None = None,
    ) -> None:
        self.registry = registry
        #: which servers' models were written to (shared with the web cache)
        self.changes: Versions = changes or LocalVersions()
        #: is a watched pull job over? (set in a process that runs jobs)
        self.job_finished: Callable[[str], bool] | None = None
        self.on_check = on_check
        self.models = models
        self.policy = policy
        self._clients = clients  # a server's URL -> its client
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def breaker(self, name: str) -> CircuitBreaker:
        with self._lock:
            found = self._breakers.get(name)
            if found is None:
                found = self._breakers[name] = CircuitBreaker(
                    self.policy, clock=self._clock
                )
            return found

    def is_healthy(self, name: str) -> bool:
        return self.breaker(name).healthy

    def version_of(self, name: str) -> str | None:
        with self._lock:
            return self._versions.get(name)

    def record_success(self, name: str) -> None:
        self.breaker(name).success()

    def record_failure(self, name: str, error: str = "") -> None:
        self.breaker(name).failure(error)

    def check(self, server: Server) -> bool:
        """Probe one server now; on success refresh its models too."""
        started = time.perf_counter()
        try:
            version = self._get_json(server, "/api/version")
            latency_ms = (time.perf_counter() - started) * 1000
            self.refresh_models(server)
        except Exception as exc:  # any failure of the probe is a failure signal
            self.record_failure(server.name, _describe(exc))
            self._observe(server, False, (time.perf_counter() - started) * 1000)
            return False
        with self._lock:
            self._versions[server.name] = str(version.get("version", ""))
        self.record_success(server.name)
        self._observe(server, True, latency_ms)
        return True

    def _observe(self, server: Server, ok: bool, latency_ms: float) -> None:
        if self.on_check is None:
            return
        try:
            self.on_check(server, ok, latency_ms)
        except Exception:  # recording must never break the probes
            log.exception("health check observer failed for %s", server.name)

    def refresh_models(self, server: Server) -> None:
        token = self.models.token(server.name)
        version = self.changes.current(server.url)
        tags = self._get_json(server, "/api/tags").get("models") or []
        running = self._get_json(server, "/api/ps").get("models") or []
        self.models.update(
            server.name, tags=tags, running=running, token=token, version=version
        )

    def models_written(self, server: Server) -> None:
        """A write through the gateway changed ``server``'s models: tell every
        process (the web cache too), then list them again, before answering."""
        self.changes.bump(server.url)
        self.models.changed(server.name)
        self.refresh_models_quietly(server)

    def recheck(self, servers: Iterable[Server]) -> bool:
        """List again the servers written to since their last listing (through
        the web app, a job, another gateway process); True if any was."""
        stale = [s for s in servers if self._written(s)]
        for server in stale:
            self.refresh_models_quietly(server)
        return bool(stale)

    def _written(self, server: Server) -> bool:
        """Written to since it was listed: its version moved, or it has a
        watched pull that may be over (any may be, with no job runner to ask).
        A server never listed is not: the router asks it directly."""
        if not self.models.known(server.name):
            return False
        if self.job_finished is not None:
            # a finished pull bumps the version; a running one wrote nothing yet
            settle(self.changes, server.url, self.job_finished)
            pending = False
        else:
            pending = bool(self.changes.watched(server.url))
        version = self.changes.current(server.url)
        return pending or self.models.version_of(server.name) != version

    def refresh_models_quietly(self, server: Server) -> None:
        """After a pull/delete/copy: best effort, the next round retries anyway."""
        try:
            self.refresh_models(server)
        except Exception as exc:  # a failing server is the probes' business
            log.debug("model refresh of %s failed: %s", server.name, exc)

    def check_all(self) -> None:
        """One round: probe every due server in parallel and wait for all."""
        due = [s for s in self.registry.active() if self.breaker(s.name).probe_due()]
        threads = [
            threading.Thread(target=self.check, args=(s,), daemon=True) for s in due
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def start(self) -> None:
        """First round now (so routing starts informed), then every interval."""
        self.check_all()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="gateway-health", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.health_timeout * 2 + 1)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.policy.health_interval):
            try:
                self.check_all()
            except Exception:  # the loop must survive anything
                log.exception("health round failed")

    def _get_json(self, server: Server, path: str) -> dict[str, Any]:
        timeout = self.policy.health_timeout
        client = self._clients(server.url)
        return client.get_json(path, connect=timeout, read=timeout)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
