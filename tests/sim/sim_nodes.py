"""Emulated nodes on real sockets for the emulator's tests (a uniquely named module:
test folders have no ``__init__.py``, so ``conftest`` names collide)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.sim.state import SimState

FAST = 10e9  # bytes/s: pulls of the small test models finish at once


@dataclass
class Node:
    state: SimState
    url: str

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


@contextmanager
def running_node(
    models: tuple[str, ...] = ("llama3.2:latest", "all-minilm:latest"),
    **options: object,
) -> Iterator[Node]:
    options.setdefault("bandwidth", FAST)
    options.setdefault("token_delay", 0.0005)
    state = SimState.with_models(list(models), **options)
    with serve_in_thread(create_app(state)) as server:
        yield Node(state, server.url)
