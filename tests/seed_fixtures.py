"""Fixtures of the seeding tests (a plugin of the root conftest): the seed
cache's address and the web app serving it there.

A test module gives ``services`` built with ``seed_cache_url=cache_url``;
``web`` then serves that web app on the cache's port, as ``serve`` does, so the
nodes reach ``/v2/`` where they are told to. A test that leaves ``web`` out
has a cache nobody serves (the fallbacks).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from fleet_support import closed_port_url
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.serve import RunningServer, serve_in_thread


@pytest.fixture
def cache_url() -> str:
    """Where the nodes are told to find the seed cache (a free port)."""
    return closed_port_url()


@pytest.fixture
def web(services: Services, cache_url: str) -> Iterator[RunningServer]:
    """The web app on the cache's address: it serves ``/v2/``."""
    port = int(urlsplit(cache_url).port or 0)
    with serve_in_thread(create_app(services=services), port=port) as running:
        yield running
