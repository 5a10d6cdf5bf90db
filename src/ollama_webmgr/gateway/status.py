"""A snapshot of every server as the gateway sees it (for the UI and the API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ollama_webmgr.gateway.app import Gateway


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    url: str
    enabled: bool
    draining: bool
    healthy: bool
    in_flight: int
    waiting: int
    limit: int  # effective limit, 0: unlimited
    weight: int
    ttft_avg: float | None  # seconds
    version: str | None
    last_error: str
    models: int  # installed
    loaded: int
    loaded_models: tuple[str, ...]  # names as /api/ps lists them


def fleet_status(gateway: Gateway) -> list[ServerStatus]:
    """One status per registered server, in registry order."""
    statuses = []
    for server in gateway.registry.all():
        breaker = gateway.monitor.breaker(server.name)
        running = gateway.models.running_of(server.name)
        statuses.append(
            ServerStatus(
                name=server.name,
                url=server.url,
                enabled=server.enabled,
                draining=server.draining,
                healthy=breaker.healthy,
                in_flight=gateway.slots.in_flight(server.name),
                waiting=gateway.slots.waiting(server.name),
                limit=server.limit or gateway.config.default_limit,
                weight=server.weight,
                ttft_avg=gateway.ttft.get(server.name),
                version=gateway.monitor.version_of(server.name),
                last_error=breaker.last_error,
                models=len(gateway.models.tags_of(server.name)),
                loaded=len(running),
                loaded_models=tuple(str(m.get("name", "")) for m in running),
            )
        )
    return statuses
