"""The gateway's WSGI application: the state of one process and its entry.

Kept free of Flask: the hot path reads the request head once (``calls``),
looks its route up in one table (``routes``), reads the body with one JSON
parse (to read ``model``), then the handler ranks the servers (``balancer``)
and relays over each server's keep-alive connections (``failover``,
``upstream``). The handlers see this ``Gateway`` through ``gate.Gate``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ollama_webmgr.cluster.health import HealthMonitor
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.gateway import failover, fleet_view
from ollama_webmgr.gateway.auth import key_allowed
from ollama_webmgr.gateway.calls import Call, JSONTooDeep, read_body, read_head
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.gateway.cors import apply_cors
from ollama_webmgr.gateway.limiter import Slots, SlotTable
from ollama_webmgr.gateway.metrics import GatewayMetrics, TtftAverages
from ollama_webmgr.gateway.relay import Outcome
from ollama_webmgr.gateway.responses import send_bug, send_error
from ollama_webmgr.gateway.routes import route_of
from ollama_webmgr.gateway.seeding import SeedSource
from ollama_webmgr.gateway.stats import RequestRecord, token_counts
from ollama_webmgr.gateway.sticky import StickyTable
from ollama_webmgr.gateway.upstream import Timeouts, Upstreams

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)
Observer = Callable[[RequestRecord], None]
UNAUTHORIZED = "unauthorized: invalid or missing API key"
_SLOW = frozenset({"/api/pull", "/api/push", "/api/create"})


class Gateway:
    """WSGI callable and ``gate.Gate``; build it with ``create_gateway_app``."""

    def __init__(
        self,
        config: GatewayConfig,
        registry: ServerRegistry,
        monitor: HealthMonitor,
        *,
        on_request: Observer | None = None,
        slots: SlotTable | None = None,
        upstreams: Upstreams | None = None,
        seed_source: SeedSource | None = None,
    ) -> None:
        self.config = config
        #: a pull to several servers takes the registry's bytes once through it
        self.seed_source = seed_source
        self.registry = registry
        self.monitor = monitor
        self.models = monitor.models
        # in-process by default; shared through Redis with several gateways
        self.slots: SlotTable = slots or Slots()
        self.ttft = TtftAverages()
        self.metrics = GatewayMetrics(
            lambda: [s.name for s in registry.all()],
            self.slots.in_flight,
            monitor.is_healthy,
        )
        self._observers: list[Observer] = [self.metrics.observe]
        if on_request is not None:
            self._observers.append(on_request)
        self.turns = itertools.count()  # round-robin turns
        self.sticky = StickyTable()
        #: each server's keep-alive connections (shared with the health probes)
        self.upstream = upstreams or Upstreams()

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        call = read_head(environ)
        if call.origin:
            start_response, answered = apply_cors(
                environ, start_response, call.origin, self.config.origins
            )
            if answered is not None:
                return answered
        route = route_of(call.method, call.path)
        hashes = self.config.api_key_hashes
        if hashes and not route.public and not key_allowed(call.authorization, hashes):
            return send_error(start_response, call.path, 401, UNAUTHORIZED)
        if route.reads_body:
            try:
                read_body(call, strip_auth=bool(hashes))
            except JSONTooDeep as exc:
                return send_error(start_response, call.path, 400, str(exc))
        try:
            return route.handler(self, call, start_response)
        except Exception:
            log.exception("gateway failure on %s %s", call.method, call.path)
            return send_bug(start_response, call.path)

    # --- the fleet view (gate.Gate) -------------------------------------------
    # ``views`` and ``relay`` are functions of the gateway kept in their own
    # modules, bound here as methods (no extra call on the hot path)
    views = fleet_view.views

    def active_servers(self) -> list[Server]:
        return self.registry.active()

    def usable_servers(self) -> list[Server]:
        return fleet_view.usable_servers(self.registry, self.monitor)

    def server(self, name: str) -> Server:
        return self.registry.get(name)

    def models_written(self, server: Server) -> None:
        self.monitor.models_written(server)

    def refresh_models_quietly(self, server: Server) -> None:
        self.monitor.refresh_models_quietly(server)

    def recheck(self, servers: Iterable[Server]) -> bool:
        return self.monitor.recheck(servers)

    # --- relaying --------------------------------------------------------------
    relay = failover.relay

    def timeouts(self, path: str, read: float | None = None) -> Timeouts:
        """Settings may change at run time: read them per request."""
        if read is None:
            slow = path in _SLOW
            read = self.config.pull_timeout if slow else self.config.read_timeout
        return Timeouts(self.config.connect_timeout, read)

    # --- the gateway's own answers, and the records ----------------------------
    def error(
        self,
        call: Call,
        start_response: StartResponse,
        status: int,
        message: str,
        headers: list[tuple[str, str]] | None = None,
        *,
        attempts: int = 0,
    ) -> Iterable[bytes]:
        """A response made by the gateway itself, recorded like the others."""
        self.record(call, status, None, Outcome(error=message), None, attempts)
        return send_error(start_response, call.path, status, message, headers or [])

    def record(
        self,
        call: Call,
        status: int,
        server: str | None,
        outcome: Outcome,
        ttft: float | None,
        attempts: int,
    ) -> None:
        prompt, completion = token_counts(outcome.tail)
        record = RequestRecord(
            started_at=call.wall,
            method=call.method,
            path=call.path,
            kind=call.kind,
            model=call.model,
            server=server,
            status=status,
            latency_ms=(time.monotonic() - call.started) * 1000,
            ttft_ms=None if ttft is None else ttft * 1000,
            prompt_tokens=prompt,
            completion_tokens=completion,
            bytes_in=call.size,
            bytes_out=outcome.bytes_out,
            attempts=attempts,
            error=outcome.error,
        )
        for observer in self._observers:
            # recording must never break a response
            with contextlib.suppress(Exception):
                observer(record)

    def close(self) -> None:
        """Close the idle upstream connections."""
        self.upstream.close()


def create_gateway_app(
    config: GatewayConfig,
    registry: ServerRegistry,
    monitor: HealthMonitor,
    *,
    on_request: Observer | None = None,
    slots: SlotTable | None = None,
    upstreams: Upstreams | None = None,
    seed_source: SeedSource | None = None,
) -> Gateway:
    """The Ollama-compatible gateway over ``registry`` (``runtime/gateway.py`` runs it);
    ``upstreams``: the connections it shares with ``monitor``'s probes;
    ``seed_source``: the seed cache of fanned-out pulls (none: direct pulls)."""
    return Gateway(
        config,
        registry,
        monitor,
        on_request=on_request,
        slots=slots,
        upstreams=upstreams,
        seed_source=seed_source,
    )
