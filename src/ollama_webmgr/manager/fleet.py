"""The fleet: configured servers plus those added in the UI, kept in the store.

Servers come from two places. ``OLLAMA_BASE_URL`` and ``OLLAMA_SERVERS`` (the
environment) are always there: the UI may rename or disable them, not remove
them, since the next start would bring them back. Servers added in the UI live
only in the store. Both kinds keep their UI state in the ``servers`` table, in
the document of their ``address`` (the one the health monitor writes), under a
``fleet`` field: ``{"url", "name", "enabled", "weight", "origin"}``.

A new server must answer ``GET /api/version`` before it is saved: a typo in an
address is caught at once instead of showing up later as a dead server.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ollama_webmgr.cluster.hardware import (
    ClientFactory,
    Collected,
    collect_hardware,
    set_agent_address,
)
from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.errors import (
    AgentUnavailable,
    ConfiguredServerRemoval,
    FleetError,
    InvalidAgentAddress,
    InvalidServerName,
    InvalidServerUrl,
    LastActiveServer,
    OllamaError,
    ServerCheckFailed,
    ServerNameTaken,
    ServerUrlTaken,
    UnknownServer,
)
from ollama_webmgr.ollama.urls import display_address, normalize_base_url
from ollama_webmgr.store.database import DatabaseManager, Doc, Where

log = logging.getLogger(__name__)

TABLE = "servers"
ORIGIN_ENV = "env"
ORIGIN_UI = "ui"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
MAX_WEIGHT = 1000


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
    from ollama_webmgr.manager.clients import probe_factory

    url = normalize_base_url(url)
    started = time.perf_counter()
    try:
        with probe_factory(url) as client:
            version = client.version()
    except OllamaError as exc:
        raise ServerCheckFailed(f"{url} does not answer as Ollama: {exc}") from exc
    return ServerCheck(url, version, round((time.perf_counter() - started) * 1000, 1))


def validate_name(name: str) -> str:
    """The name, stripped; ``InvalidServerName`` unless it fits ``?server=``/URLs.

    >>> validate_name(" gpu-1 ")
    'gpu-1'
    >>> validate_name("a b")
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.InvalidServerName: invalid server name 'a b'
    """
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidServerName(f"invalid server name {name!r}")
    return name


def load_registry(configured: Sequence[str], db: DatabaseManager) -> ServerRegistry:
    """The configured servers (in order, with their saved UI state) then the UI ones."""
    registry = ServerRegistry.from_urls(configured)
    saved = {doc["address"]: doc["fleet"] for doc in _fleet_docs(db)}
    for server in registry.all():
        state = saved.pop(display_address(server.url), None)
        if state is not None:
            _apply_saved(registry, server, state)
    for state in saved.values():
        if state.get("origin") == ORIGIN_UI:  # else: gone from the environment
            _restore(registry, state)
    return registry


def fleet_fingerprint(db: DatabaseManager) -> list[tuple[str, str]]:
    """The saved fleet in a comparable form: changes when a process edits it."""
    return sorted(
        (str(doc["address"]), json.dumps(doc["fleet"], sort_keys=True, default=str))
        for doc in _fleet_docs(db)
    )


def reload_registry(
    registry: ServerRegistry, configured: Sequence[str], db: DatabaseManager
) -> None:
    """Make ``registry`` the fleet saved in the store (added, removed, renamed,
    switched or weighted servers through another web worker or process)."""
    registry.replace_all(load_registry(configured, db).all())


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
        try:
            return self.registry.get(name)
        except KeyError:
            raise UnknownServer(f"unknown server {name!r}") from None

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
        server = Server(name, url)
        try:
            self.registry.add(server)
        except ValueError:  # added by another request meanwhile
            raise ServerNameTaken(f"server {name!r} already exists") from None
        self._save(server)
        return self.registry.get(name)

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
            raise FleetError(f"weight must be between 0 and {MAX_WEIGHT}")
        if enabled is False and server.enabled and not self._others_enabled(name):
            raise LastActiveServer("the last enabled server cannot be disabled")
        if new_name is not None and new_name.strip() != name:
            new_name = validate_name(new_name)
            self._check_free(new_name, None)
            try:
                server = self.registry.rename(name, new_name)
            except ValueError:
                raise ServerNameTaken(f"server {new_name!r} already exists") from None
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
        docs = self._docs_of(server.url)
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
        for doc in self._docs_of(server.url):
            self.db.update(TABLE, doc["id"], {"fleet": None})

    def _others_enabled(self, name: str) -> bool:
        return any(s.enabled for s in self.registry.all() if s.name != name)

    def _check_free(self, name: str, url: str | None) -> None:
        for server in self.registry.all():
            if server.name == name:
                raise ServerNameTaken(f"server {name!r} already exists")
            if url is not None and server.url == url:
                raise ServerUrlTaken(f"{url} is already server {server.name!r}")

    def _save(self, server: Server) -> None:
        state = {
            "url": server.url,
            "name": server.name,
            "enabled": server.enabled,
            "weight": server.weight,
            "origin": ORIGIN_ENV if self.is_configured(server) else ORIGIN_UI,
        }
        self.db.upsert(
            TABLE, ["address"], {"address": display_address(server.url), "fleet": state}
        )

    def _docs_of(self, url: str) -> list[Doc]:
        return self.db.find(TABLE, [Where("address", "==", display_address(url))])


def _fleet_docs(db: DatabaseManager) -> list[Doc]:
    return [doc for doc in db.find(TABLE) if isinstance(doc.get("fleet"), dict)]


def _restore(registry: ServerRegistry, state: Doc) -> None:
    """Add a saved UI server; a configured server that took its name meanwhile
    wins and the saved one gets a suffix (``gpu-2``) rather than vanishing."""
    try:
        base = validate_name(str(state["name"]))
        url = normalize_base_url(str(state["url"]))
    except (KeyError, InvalidServerName, InvalidServerUrl) as exc:
        log.warning("saved server %r skipped: %s", state.get("name"), exc)
        return
    taken = {server.name for server in registry.all()}
    name = base
    for n in range(2, 100):
        if name not in taken:
            break
        name = f"{base[:60]}-{n}"
    try:
        registry.add(
            Server(
                name,
                url,
                weight=int(state.get("weight", 1)),
                enabled=bool(state.get("enabled", True)),
            )
        )
    except ValueError as exc:
        log.warning("saved server %r skipped: %s", name, exc)


def _apply_saved(registry: ServerRegistry, server: Server, state: Doc) -> None:
    """Replay the UI changes of a configured server (name, switch, weight)."""
    name = str(state.get("name") or server.name)
    if name != server.name:
        try:
            server = registry.rename(server.name, name)
        except ValueError as exc:
            log.warning("saved name of %s ignored: %s", server.url, exc)
    registry.update(
        server.name,
        enabled=bool(state.get("enabled", True)),
        weight=int(state.get("weight", server.weight)),
    )
