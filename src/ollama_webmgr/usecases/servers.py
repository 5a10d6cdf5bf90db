"""Which server a request means: by name or address, or the primary one.

The one definition of "the primary server" is here: the first *enabled*
server of the fleet (``OLLAMA_BASE_URL`` unless it was disabled or moved).
Every use case that takes an optional server (pull, eject, list, show...)
uses it, so a request without a server goes to the same place whatever it
asks.
"""

from __future__ import annotations

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.errors import UnknownServer
from ollama_webmgr.ollama.urls import display_address

#: the choice that means every enabled server
ALL_SERVERS = "all"


def primary_server(registry: ServerRegistry) -> Server:
    """The first enabled server; ``UnknownServer`` when none is enabled."""
    active = registry.active()
    if not active:
        raise UnknownServer("no enabled server")
    return active[0]


def find_server(registry: ServerRegistry, value: str) -> Server:
    """The server called ``value``, or at that URL or address (``host:port``)."""
    servers = registry.all()
    for server in servers:
        if value == server.name:
            return server
    for server in servers:
        if value in (server.url, display_address(server.url)):
            return server
    raise UnknownServer(f"unknown server {value!r}", name=value)


def chosen_server(registry: ServerRegistry, value: str | None) -> Server:
    """The server named ``value``; the primary when nothing was chosen."""
    return find_server(registry, value) if value else primary_server(registry)


def chosen_servers(registry: ServerRegistry, choice: object) -> list[Server]:
    """``"all"`` (every enabled server), one name (None: the primary), or a list
    of names (deduplicated, in the order given)."""
    if choice == ALL_SERVERS:
        servers = registry.active()
        if not servers:
            raise UnknownServer("no server is enabled")
        return servers
    if choice is None or isinstance(choice, str):
        return [chosen_server(registry, choice)]
    if not isinstance(choice, list):
        raise UnknownServer(f"not a server list: {choice!r}")
    chosen: dict[str, Server] = {}
    for name in choice:
        server = chosen_server(registry, name if isinstance(name, str) else repr(name))
        chosen[server.url] = server
    if not chosen:
        raise UnknownServer("no server was chosen")
    return list(chosen.values())
