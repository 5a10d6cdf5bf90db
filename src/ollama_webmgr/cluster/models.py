"""Which server has which model, and where each model is loaded.

Names are compared as Ollama compares them (``ModelName.key``: defaults filled,
case folded), so ``Llama3.2`` matches ``llama3.2:latest``.

>>> fleet = ModelMap()
>>> fleet.update("a", tags=[{"name": "llama3.2:latest"}], running=[])
True
>>> fleet.update("b", tags=[{"name": "llama3.2:latest"}], running=[{"name": "llama3.2:latest"}])
True
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
    version: str | None = None  # the shared version its tags were read under


class ModelMap:
    """Latest ``/api/tags`` and ``/api/ps`` of every server, indexed by name key.

    A listing read while a write changed the server must not replace the one
    read after it: readers take a ``token`` before they ask, writers call
    ``changed``, and ``update`` drops a listing whose token is older.

    >>> fleet = ModelMap()
    >>> token = fleet.token("a")  # a probe starts listing "a"...
    >>> fleet.changed("a")  # ...a delete ends there meanwhile...
    >>> fleet.update("a", tags=[{"name": "gone:1"}], token=token)  # ...too late
    False
    >>> fleet.servers_with("gone:1")
    set()
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: dict[str, _ServerModels] = {}
        self._writes: dict[str, int] = {}

    def token(self, server: str) -> int:
        """Taken before reading ``server``'s lists, handed to ``update``."""
        with self._lock:
            return self._writes.get(server, 0)

    def changed(self, server: str) -> None:
        """A write ended on ``server``: lists read before it are stale."""
        with self._lock:
            self._writes[server] = self._writes.get(server, 0) + 1

    def update(
        self,
        server: str,
        *,
        tags: Iterable[dict[str, Any]] | None = None,
        running: Iterable[dict[str, Any]] | None = None,
        token: int | None = None,
        version: str | None = None,
    ) -> bool:
        """Replace what is known of ``server`` (either list may be left as is);
        False, and nothing changed, when a write happened since ``token``."""
        with self._lock:
            if token is not None and token != self._writes.get(server, 0):
                return False
            entry = self._servers.setdefault(server, _ServerModels())
            if tags is not None:
                entry.tags = list(tags)
                entry.installed = {k for e in entry.tags if (k := _entry_key(e))}
                if version is not None:  # else the older one: rechecked sooner
                    entry.version = version
            if running is not None:
                entry.running = list(running)
                entry.loaded = {k for e in entry.running if (k := _entry_key(e))}
            return True

    def version_of(self, server: str) -> str | None:
        """The shared version (``cluster/changes.py``) the tags were read under."""
        with self._lock:
            entry = self._servers.get(server)
            return entry.version if entry else None

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
