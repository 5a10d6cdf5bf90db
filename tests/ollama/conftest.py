"""Fixtures for the Ollama client tests: clients over small transport handlers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from ollama_client_helpers import SERVER, Handler

from ollama_webmgr.ollama.client import OllamaClient


@pytest.fixture
def mock_client() -> Iterator[Callable[..., OllamaClient]]:
    """Factory: ``mock_client(handler, **options)`` → a client on a MockTransport."""
    made: list[OllamaClient] = []

    def make(handler: Handler, **options: Any) -> OllamaClient:
        options.setdefault("backoff", 0.0)
        client = OllamaClient(SERVER, transport=httpx.MockTransport(handler), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
