"""One ``OllamaClient`` per server, created on first use and shared."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from ollama_webmgr.cluster.servers import Server, ServerRegistry
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.settings import Settings

ClientFactory = Callable[[str], OllamaClient]


def client_factory(settings: Settings) -> ClientFactory:
    """Build clients with the configured timeouts (a URL in, a client out)."""
    return partial(
        OllamaClient,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        pull_timeout=settings.pull_timeout,
    )


class ClientPool:
    """Clients keyed by server URL, so renaming a server keeps its connections."""

    def __init__(self, registry: ServerRegistry, factory: ClientFactory) -> None:
        self.registry = registry
        self._factory = factory
        self._clients: dict[str, OllamaClient] = {}
        self._lock = threading.Lock()

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
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
