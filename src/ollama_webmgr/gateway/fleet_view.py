"""The fleet as the router sees it: one ``ServerView`` per active server.

A view joins what the registry says (weight, limit, draining), what the
health monitor says (healthy, which models), the slots (in flight) and the
TTFT averages, at the moment of the request: settings and health change at
run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ollama_webmgr.gateway.balancer import ServerView

if TYPE_CHECKING:
    from ollama_webmgr.cluster.health import HealthMonitor
    from ollama_webmgr.cluster.servers import Server, ServerRegistry
    from ollama_webmgr.gateway.app import Gateway


def views(
    gateway: Gateway, model: str | None, only: Iterable[str] | None = None
) -> list[ServerView]:
    """``Gateway.views``: the active servers (``only`` those named), for ``model``."""
    models = gateway.models
    having = models.servers_with(model) if model else set()
    loaded = models.loaded_on(model) if model else set()
    allowed = set(only) if only is not None else None
    monitor, slots, ttft = gateway.monitor, gateway.slots, gateway.ttft
    default_limit = gateway.config.default_limit
    chosen = [
        (s, s.limit or default_limit)
        for s in gateway.registry.active()
        if allowed is None or s.name in allowed
    ]
    return [
        ServerView(
            s.name,
            s.url,
            healthy=monitor.is_healthy(s.name),
            draining=s.draining,
            # the fleet-wide count matters only against a limit; without one
            # it just orders the candidates, and this process's count will do
            in_flight=slots.in_flight(s.name)
            if limit
            else slots.in_flight_here(s.name),
            limit=limit,
            weight=s.weight,
            ttft_avg=ttft.get(s.name),
            has_model=model is None or s.name in having,
            model_loaded=s.name in loaded,
        )
        for s, limit in chosen
    ]


def usable_servers(registry: ServerRegistry, monitor: HealthMonitor) -> list[Server]:
    """Active, healthy and not draining, in registry order."""
    return [
        s for s in registry.active() if not s.draining and monitor.is_healthy(s.name)
    ]
