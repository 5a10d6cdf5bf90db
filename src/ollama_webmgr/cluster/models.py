"""Which server has which model, and where each model is loaded.

Names are compared as Ollama compares them (``ModelName.key``: defaults filled,
case folded), so ``Llama3.2`` matches ``llama3.2:latest``.

>>> fleet = ModelMap()
>>> fleet.update("a", tags=[{"name": "llama3.2:latest"}], running=[])
>>> fleet.update("b", tags=[{"name": "llama3.2:latest"}], running=[{"name": "llama3.2:latest"}])
>>> sorted(fleet.servers_with("Llama3.2"))
['a', 'b']
>>> sorted(fleet.loaded_on("llama3.2"))
['b']
>>> fleet.known("c")
False
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ollama_webmgr.ollama.names import ModelName

NameKey = tuple[str, ...]


@functools.lru_cache(maxsize=4096)
def name_key(raw: str) -> NameKey | None:
    """Comparison key of a model name, None when Ollama would reject it.

    Cached: the same few names are looked up on every routed request.
    """
    try:
        return ModelName.parse(raw).key
    except Exception:  # InvalidModelName; names here come from servers
        return None


def _entry_key(entry: Mapping[str, Any]) -> NameKey | None:
    if not isinstance(entry, Mapping):
        return None  # servers are not trusted to answer well-formed lists
    raw = entry.get("model") or entry.get("name")
    return name_key(raw) if isinstance(raw, str) else None


@dataclass
class _ServerModels:
    tags: list[dict[str, Any]] = field(default_factory=list)
    running: list[dict[str, Any]] = field(default_factory=list)
    installed: set[NameKey] = field(default_factory=set)
    loaded: set[NameKey] = field(default_factory=set)


class ModelMap:
    """Latest ``/api/tags`` and ``/api/ps`` of every server, indexed by name key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, _ServerModels] = {}

    def update(
        self,
        server: str,
        *,
        tags: Iterable[dict[str, Any]] | None = None,
        running: Iterable[dict[str, Any]] | None = None,
    ) -> None:
        """Replace what is known of ``server`` (either list may be left as is)."""
        with self._lock:
            entry = self._servers.setdefault(server, _ServerModels())
            if tags is not None:
                entry.tags = list(tags)
                entry.installed = {k for e in entry.tags if (k := _entry_key(e))}
            if running is not None:
                entry.running = list(running)
                entry.loaded = {k for e in entry.running if (k := _entry_key(e))}

    def forget(self, server: str) -> None:
        with self._lock:
            self._servers.pop(server, None)

    def known(self, server: str) -> bool:
        """True once the models of ``server`` have been listed at least once."""
        with self._lock:
            return server in self._servers

    def servers_with(self, model: str) -> set[str]:
        key = name_key(model)
        with self._lock:
            return {s for s, e in self._servers.items() if key in e.installed}

    def loaded_on(self, model: str) -> set[str]:
        key = name_key(model)
        with self._lock:
            return {s for s, e in self._servers.items() if key in e.loaded}

    def mark_loaded(self, server: str, model: str) -> None:
        """Passive signal: a request just ran ``model`` on ``server``."""
        key = name_key(model)
        if key is None:
            return
        with self._lock:
            entry = self._servers.get(server)
            if entry is not None:
                entry.loaded.add(key)

    def tags_of(self, server: str) -> list[dict[str, Any]]:
        with self._lock:
            entry = self._servers.get(server)
            return list(entry.tags) if entry else []

    def running_of(self, server: str) -> list[dict[str, Any]]:
        with self._lock:
            entry = self._servers.get(server)
            return list(entry.running) if entry else []
