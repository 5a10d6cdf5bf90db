"""The client pool's factory from the settings (the pool: ``cluster.clients``)."""

from __future__ import annotations

from functools import partial

from ollama_webmgr.cluster.clients import ClientFactory
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.settings import Settings


def client_factory(settings: Settings) -> ClientFactory:
    """Build clients with the configured timeouts (a URL in, a client out)."""
    return partial(
        OllamaClient,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        pull_timeout=settings.pull_timeout,
    )
