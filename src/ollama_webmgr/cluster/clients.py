"""One ``OllamaClient`` per server, created on first use and shared.

The factory with the configured timeouts is built by the runtime
(``manager.clients.client_factory``): this module reads no settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.ollama.client import OllamaClient

ClientFactory = Callable[[str], OllamaClient]


def probe_factory(url: str) -> OllamaClient:
    """Clients that give up fast (connect 1 s, read 3 s, no retry): status reads."""
    return OllamaClient(url, connect_timeout=1.0, read_timeout=3.0, retries=0)


class ClientPool:
    """Clients keyed by server URL, so renaming a server keeps its connections.

    ``probe`` clients are a second set with short timeouts, for pages and
    health checks that must not wait on a dead server. Both are kept: building
    an ``httpx.Client`` (its TLS context) costs tens of milliseconds.
    """

    def __init__(
        self,
        registry: ServerRegistry,
        factory: ClientFactory,
        probe: ClientFactory = probe_factory,
    ) -> None:
        self.registry = registry
        self._factory = factory
        self._probe_factory = probe
        self._clients: dict[str, OllamaClient] = {}
        self._probes: dict[str, OllamaClient] = {}
        self._lock = threading.Lock()

    def probe(self, server: Server) -> OllamaClient:
        """The short-timeout client of ``server``."""
        with self._lock:
            client = self._probes.get(server.url)
            if client is None:
                client = self._probes[server.url] = self._probe_factory(server.url)
            return client

    def for_url(self, url: str) -> OllamaClient:
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = self._clients[url] = self._factory(url)
            return client

    def get(self, server: str | Server) -> OllamaClient:
        """The client of a server given by name or object (KeyError if unknown)."""
        if isinstance(server, str):
            server = self.registry.get(server)
        return self.for_url(server.url)

    def close(self) -> None:
        with self._lock:
            clients = [*self._clients.values(), *self._probes.values()]
            self._clients, self._probes = {}, {}
        for client in clients:
            client.close()
