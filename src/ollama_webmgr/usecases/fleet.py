"""Changes to the fleet: add, rename, switch, weigh, give an agent, remove.

``Fleet`` validates a change and applies it to the running registry and to the
store (``cluster/saved_fleet.py``), so every process sees it. The use cases
(``add_server``, ``change_server``...) take who acts and write the audit.

A new server must answer ``GET /api/version`` before it is saved: a typo in an
address is caught at once instead of showing up later as a dead server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ollama_webmgr.cluster.hardware import (
    ClientFactory,
    Collected,
    InfoSource,
    collect_hardware,
    optional_grpc_factory,
    set_agent_address,
)
from ollama_webmgr.cluster.saved_fleet import (
    documents_of,
    forget_server,
    save_server,
    validate_name,
)
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.errors import (
    AgentUnavailable,
    ConfiguredServerRemoval,
    InvalidAgentAddress,
    InvalidServerField,
    LastActiveServer,
    OllamaError,
    ServerCheckFailed,
    ServerNameTaken,
    ServerUrlTaken,
)
from ollama_webmgr.ollama.urls import display_address, normalize_base_url
from ollama_webmgr.store.database import DatabaseManager
from ollama_webmgr.usecases.actor import Actor, audit

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

MAX_WEIGHT = 1000
#: a web request waits at most this long for a newly set agent's first answer
AGENT_FIRST_ANSWER_S = 2.0


@dataclass(frozen=True, slots=True)
class ServerCheck:
    """A successful reachability test of an address."""

    url: str
    version: str
    latency_ms: float


VersionCheck = Callable[[str], ServerCheck]


@dataclass(frozen=True, slots=True)
class AgentSet:
    """A server's agent was set: ``report`` is its first answer (or why there is
    none), ``None`` when the agent was removed or cannot be asked here."""

    server: Server
    report: Collected | None


def check_server(url: str) -> ServerCheck:
    """``GET /api/version`` with short timeouts; ``ServerCheckFailed`` if no answer."""
    # here: the gateway's process reloads the fleet but never tests a URL (httpx)
    from ollama_webmgr.cluster.clients import probe_factory

    url = normalize_base_url(url)
    started = time.perf_counter()
    try:
        with probe_factory(url) as client:
            version = client.version()
    except OllamaError as exc:
        raise ServerCheckFailed(f"{url} does not answer as Ollama: {exc}") from exc
    return ServerCheck(url, version, round((time.perf_counter() - started) * 1000, 1))


class Fleet:
    """Changes to the server list, validated, applied and saved."""

    def __init__(
        self,
        registry: ServerRegistry,
        db: DatabaseManager,
        configured: Sequence[str],
        *,
        check: VersionCheck = check_server,
        ask_agent: ClientFactory | None = None,
    ) -> None:
        self.registry = registry
        self._ask_agent = ask_agent
        self.db = db
        self._configured = {normalize_base_url(url) for url in configured}
        self._check = check

    def get(self, name: str) -> Server:
        return self.registry.get(name)

    def is_configured(self, server: Server) -> bool:
        """True for servers from the environment (they cannot be removed)."""
        return server.url in self._configured

    def test(self, url: str) -> ServerCheck:
        return self._check(url)

    def add(self, name: str, url: str) -> Server:
        name = validate_name(name)
        url = normalize_base_url(url)
        self._check_free(name, url)
        self._check(url)
        self.registry.add(Server(name, url))  # ServerNameTaken: added meanwhile
        server = self.registry.get(name)
        self._save(server)
        return server

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        enabled: bool | None = None,
        weight: int | None = None,
    ) -> Server:
        server = self.get(name)
        if weight is not None and not 0 <= weight <= MAX_WEIGHT:
            raise InvalidServerField("weight", weight, low=0, high=MAX_WEIGHT)
        if enabled is False and server.enabled and not self._others_enabled(name):
            raise LastActiveServer("the last enabled server cannot be disabled")
        if new_name is not None and new_name.strip() != name:
            new_name = validate_name(new_name)
            self._check_free(new_name, None)
            server = self.registry.rename(name, new_name)
        changes: dict[str, Any] = {}
        if enabled is not None:
            changes["enabled"] = enabled
        if weight is not None:
            changes["weight"] = weight
        if changes:
            server = self.registry.update(server.name, **changes)
        self._save(server)
        return server

    def agent_of(self, server: Server) -> str | None:
        """The node agent address of a server (``host:port``), if it has one."""
        docs = documents_of(self.db, server.url)
        return next(
            (str(d["agent_address"]) for d in docs if d.get("agent_address")), None
        )

    def set_agent(self, name: str, agent: str | None) -> AgentSet:
        """Give a server a node agent (``host:port``), or remove it (empty).

        A new agent is asked at once, so its hardware shows right away rather
        than after the collector's next round; one that does not answer is
        kept all the same (it may start later), the reason in the report.
        """
        server = self.get(name)
        address = (agent or "").strip() or None
        try:
            set_agent_address(self.db, display_address(server.url), address)
        except AgentUnavailable as exc:
            raise InvalidAgentAddress(exc.message) from None
        if address is None or self._ask_agent is None:
            return AgentSet(server, None)
        [report] = collect_hardware(
            self.db,
            {display_address(server.url): address},
            self._ask_agent,
            time.time(),
        )
        return AgentSet(server, report)

    def remove(self, name: str) -> None:
        server = self.get(name)
        if self.is_configured(server):
            raise ConfiguredServerRemoval(f"{name!r} comes from the environment")
        if server.enabled and not self._others_enabled(name):
            raise LastActiveServer("the last enabled server cannot be removed")
        self.registry.remove(name)
        forget_server(self.db, server.url)

    def _others_enabled(self, name: str) -> bool:
        return any(s.enabled for s in self.registry.all() if s.name != name)

    def _check_free(self, name: str, url: str | None) -> None:
        for server in self.registry.all():
            if server.name == name:
                raise ServerNameTaken(name)
            if url is not None and server.url == url:
                raise ServerUrlTaken(f"{url} is already server {server.name!r}")

    def _save(self, server: Server) -> None:
        save_server(self.db, server, configured=self.is_configured(server))


# -- use cases -------------------------------------------------------------


def fleet_of(services: Services) -> Fleet:
    """The fleet of these services; a server's agent is asked over gRPC."""
    token = services.settings.agent_token

    def ask_agent(address: str) -> InfoSource:
        """A gRPC client, made only when an agent is set (gRPC loads lazily)."""
        factory = optional_grpc_factory(token=token, timeout=AGENT_FIRST_ANSWER_S)
        if factory is None:
            raise AgentUnavailable("the 'agent' extra is not installed")
        return factory(address)

    return Fleet(
        services.servers, services.db, services.settings.servers, ask_agent=ask_agent
    )


def add_server(services: Services, actor: Actor, name: str, url: str) -> Server:
    """Add a server that answers as Ollama at ``url``."""
    server = fleet_of(services).add(name, url)
    audit(services.db, actor, "server_add", server.name, {"url": server.url})
    return server


def change_server(
    services: Services,
    actor: Actor,
    name: str,
    *,
    new_name: str | None = None,
    enabled: bool | None = None,
    weight: int | None = None,
) -> Server:
    """Rename a server, switch it on or off, or change its routing weight."""
    server = fleet_of(services).update(
        name, new_name=new_name, enabled=enabled, weight=weight
    )
    asked = {"name": new_name, "enabled": enabled, "weight": weight}
    changes = {key: value for key, value in asked.items() if value is not None}
    audit(services.db, actor, "server_update", name, {"changes": changes})
    return server


def switch_server(services: Services, actor: Actor, name: str) -> Server:
    """Disable an enabled server, enable a disabled one."""
    enabled = not services.servers.get(name).enabled
    return change_server(services, actor, name, enabled=enabled)


def set_agent(
    services: Services, actor: Actor, name: str, agent: str | None
) -> AgentSet:
    """Give a server its node agent (``host:port``); empty or None removes it."""
    outcome = fleet_of(services).set_agent(name, agent)
    address = (agent or "").strip() or None
    audit(services.db, actor, "server_agent", name, {"agent": address})
    return outcome


def remove_server(services: Services, actor: Actor, name: str) -> None:
    """Remove a server added in the UI (configured ones can only be disabled)."""
    fleet_of(services).remove(name)
    audit(services.db, actor, "server_remove", name)


def check_url(services: Services, url: str) -> ServerCheck:
    """Does ``url`` answer as Ollama? (Nothing is saved.)"""
    return fleet_of(services).test(url)
