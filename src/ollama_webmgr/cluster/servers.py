"""The registry of Ollama servers the gateway routes to.

A server has a short ``name`` (shown in the ``X-Ollama-Server`` header and the
UI), a normalised base ``url``, a routing ``weight``, a concurrency ``limit``
(0: unlimited) and two switches: ``enabled`` (taken into account at all) and
``draining`` (no new requests; running streams finish).

>>> registry = ServerRegistry.from_urls(["http://10.0.0.5:11434", "gpu:11434"])
>>> [s.name for s in registry.all()]
['10.0.0.5:11434', 'gpu:11434']
>>> registry.set_draining("gpu:11434", True).draining
True
>>> registry.rename("10.0.0.5:11434", "cpu").name
'cpu'
>>> [s.name for s in registry.all()]
['cpu', 'gpu:11434']
>>> registry.get("nope")
Traceback (most recent call last):
...
ollama_webmgr.errors.UnknownServer: unknown server 'nope'
>>> registry.rename("cpu", "gpu:11434")
Traceback (most recent call last):
...
ollama_webmgr.errors.ServerNameTaken: server 'gpu:11434' already exists
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ollama_webmgr.errors import InvalidServerField, ServerNameTaken, UnknownServer
from ollama_webmgr.ollama.urls import display_address, normalize_base_url


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    url: str
    weight: int = 1
    limit: int = 0
    draining: bool = False
    enabled: bool = True

    def __post_init__(self) -> None:
        for field in ("weight", "limit"):
            value = getattr(self, field)
            if value < 0:
                raise InvalidServerField(field, value, low=0)


class ServerRegistry:
    """Thread-safe list of servers; readers get immutable ``Server`` snapshots."""

    def __init__(self, servers: Iterable[Server] = ()) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, Server] = {}
        for server in servers:
            self.add(server)

    @classmethod
    def from_urls(cls, urls: Iterable[str], *, limit: int = 0) -> ServerRegistry:
        """One server per URL, named by its ``host:port``."""
        servers = []
        for raw in urls:
            url = normalize_base_url(raw)
            servers.append(Server(display_address(url), url, limit=limit))
        return cls(servers)

    def add(self, server: Server) -> None:
        """Add ``server`` last; ``ServerNameTaken`` if its name is used."""
        with self._lock:
            if server.name in self._servers:
                raise ServerNameTaken(server.name)
            self._servers[server.name] = replace(
                server, url=normalize_base_url(server.url)
            )

    def remove(self, name: str) -> None:
        with self._lock:
            self._get(name)
            del self._servers[name]

    def get(self, name: str) -> Server:
        """The server called ``name``; ``UnknownServer`` if there is none."""
        with self._lock:
            return self._get(name)

    def all(self) -> list[Server]:
        """Servers in registration order (the first is the primary)."""
        with self._lock:
            return list(self._servers.values())

    def active(self) -> list[Server]:
        return [s for s in self.all() if s.enabled]

    def update(self, name: str, **changes: object) -> Server:
        """Replace some fields (weight, limit, draining, enabled, url)."""
        if "name" in changes:  # a caller's mistake: the name is the key
            raise TypeError("update cannot rename a server: use rename()")
        with self._lock:
            server = replace(self._get(name), **changes)  # type: ignore[arg-type]
            if "url" in changes:
                server = replace(server, url=normalize_base_url(server.url))
            self._servers[name] = server
            return server

    def rename(self, name: str, new_name: str) -> Server:
        """Give a server another name, keeping its place (the first is primary)."""
        with self._lock:
            server = replace(self._get(name), name=new_name)
            if new_name != name and new_name in self._servers:
                raise ServerNameTaken(new_name)
            self._servers = {
                (new_name if key == name else key): (server if key == name else value)
                for key, value in self._servers.items()
            }
            return server

    def replace_all(self, servers: Iterable[Server]) -> None:
        """Become ``servers`` at once (the fleet as another process saved it);
        a server keeps its ``limit`` and ``draining`` when its URL stays."""
        with self._lock:
            kept = {s.url: s for s in self._servers.values()}
            fresh: dict[str, Server] = {}
            for server in servers:
                old = kept.get(server.url)
                if old is not None:
                    server = replace(server, limit=old.limit, draining=old.draining)
                fresh[server.name] = server
            self._servers = fresh

    def set_draining(self, name: str, draining: bool) -> Server:
        return self.update(name, draining=draining)

    def _get(self, name: str) -> Server:
        try:
            return self._servers[name]
        except KeyError:
            raise UnknownServer(f"unknown server {name!r}", name=name) from None
