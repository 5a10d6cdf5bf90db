"""What a route handler sees of the gateway: ``Gate``, and a handler's shape.

The handlers (``listings``, ``by_model``, ``writes``, ``one_server``,
``about``) are functions of ``(gate, call, start_response)``; ``app.Gateway``
is the one ``Gate`` of a process. A handler reaches the fleet only through
these members: the fleet as the router sees it, the health monitor's model
listings, the relay with its retries, the upstream connections, and the
gateway's own answers and records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from prometheus_client.registry import Collector

    from ollama_webmgr.cluster.models import ModelMap
    from ollama_webmgr.cluster.servers import Server
    from ollama_webmgr.gateway.balancer import ServerView
    from ollama_webmgr.gateway.calls import Call
    from ollama_webmgr.gateway.config import GatewayConfig
    from ollama_webmgr.gateway.relay import Outcome
    from ollama_webmgr.gateway.seeding import SeedSource
    from ollama_webmgr.gateway.sticky import StickyTable
    from ollama_webmgr.gateway.upstream import Timeouts, Upstream


class Gate(Protocol):
    """The gateway as its route handlers use it."""

    # --- settings and what the router knows ---------------------------------
    @property
    def config(self) -> GatewayConfig: ...

    @property
    def models(self) -> ModelMap:
        """Which server has, and has loaded, which model."""
        ...

    @property
    def sticky(self) -> StickyTable: ...

    @property
    def seed_source(self) -> SeedSource | None:
        """The manager's seed cache a pull to several servers goes through."""
        ...

    @property
    def metrics(self) -> Collector: ...

    @property
    def turns(self) -> Iterator[int]:
        """Round-robin turns."""
        ...

    # --- the fleet view -------------------------------------------------------
    def views(
        self, model: str | None, only: Iterable[str] | None = None
    ) -> list[ServerView]:
        """The active servers (``only`` those named) as the balancer ranks them."""
        ...

    def active_servers(self) -> list[Server]: ...

    def usable_servers(self) -> list[Server]:
        """Active, healthy and not draining."""
        ...

    def server(self, name: str) -> Server:
        """The registered server ``name``; ``UnknownServer`` if there is none."""
        ...

    # --- the health monitor's model listings --------------------------------
    def models_written(self, server: Server) -> None: ...

    def refresh_models_quietly(self, server: Server) -> None: ...

    def recheck(self, servers: Iterable[Server]) -> bool: ...

    # --- relaying -------------------------------------------------------------
    def relay(
        self,
        call: Call,
        ranked: list[ServerView],
        start_response: StartResponse,
        *,
        sticky_key: str | None = None,
        listed: bool = False,
    ) -> Iterable[bytes]:
        """To the first candidate that answers (``failover.relay``)."""
        ...

    def upstream(self, base_url: str) -> Upstream:
        """The keep-alive connections of one server (fan-out, listings)."""
        ...

    def timeouts(self, path: str, read: float | None = None) -> Timeouts: ...

    # --- the gateway's own answers --------------------------------------------
    def error(
        self,
        call: Call,
        start_response: StartResponse,
        status: int,
        message: str,
        headers: list[tuple[str, str]] | None = None,
        *,
        attempts: int = 0,
    ) -> Iterable[bytes]: ...

    def record(
        self,
        call: Call,
        status: int,
        server: str | None,
        outcome: Outcome,
        ttft: float | None,
        attempts: int,
    ) -> None: ...


Handler = Callable[[Gate, "Call", "StartResponse"], Iterable[bytes]]
