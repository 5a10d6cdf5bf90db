"""A per-server cache of ``/api/tags`` answers, kept in each web process.

Entries expire after a TTL (``MODELS_CACHE_TTL``) and are dropped by pull,
delete and copy. A pull may run in another process (an RQ worker), so the cache
also remembers the jobs that will change a server: the first read that finds
one of them finished drops the entry. That works the same with both runners.

Dropping goes through a per-server *version* (``cluster/changes.py``): an
entry is only served while the server's version is the one read before it was
fetched. In one process the versions and the watched jobs live in memory
(``LocalVersions``), shared with the gateway of the same process; with several
processes (``REDIS_URL``) they live in Redis (``RedisVersions``), so a delete
through one worker, or through a gateway process, makes every worker's entry
stale at once, and any worker notices a pull finished, whoever submitted it.
The listings themselves stay per process: only the small "this is stale" facts
are shared. With Redis unreachable nothing is served from the cache (every
read asks the servers) rather than something possibly stale.

>>> cache = ModelsCache(clock=lambda: 10.0)
>>> cache.put("http://a:11434", ["m"])
>>> cache.get("http://a:11434", ttl=5.0)
['m']
>>> cache.invalidate("http://a:11434")
>>> cache.get("http://a:11434", ttl=5.0) is None
True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# The versions moved to cluster/changes.py (the gateway shares them); still
# importable from here.
from ollama_webmgr.cluster.changes import (
    LocalVersions,
    RedisVersions,
    Versions,
    settle,
)

__all__ = ["LocalVersions", "ModelsCache", "RedisVersions", "Versions"]


@dataclass
class _Entry:
    fetched: float
    version: str
    value: Any


@dataclass
class ModelsCache:
    """Thread-safe; values are whatever the caller stores (a list of tags)."""

    clock: Callable[[], float] = time.monotonic
    versions: Versions = field(default_factory=LocalVersions)
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _recorded: dict[str, dict[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(
        self,
        url: str,
        *,
        ttl: float,
        is_finished: Callable[[str], bool] | None = None,
    ) -> Any | None:
        """The cached value, or ``None`` when missing, stale or made stale by a job."""
        if is_finished is not None:
            settle(self.versions, url, is_finished)
        with self._lock:
            entry = self._entries.get(url)
        if entry is None or self.clock() - entry.fetched > ttl:
            return None
        if entry.version != self.versions.current(url):
            return None
        return entry.value

    def version(self, url: str) -> str:
        """Read before fetching, handed to ``put``: a listing fetched while a
        delete ran elsewhere is then never served."""
        return self.versions.current(url)

    def put(self, url: str, value: Any, *, version: str | None = None) -> None:
        seen = self.versions.current(url) if version is None else version
        with self._lock:
            self._entries[url] = _Entry(self.clock(), seen, value)

    def fetched_at(self, url: str) -> float | None:
        with self._lock:
            entry = self._entries.get(url)
            return entry.fetched if entry else None

    def invalidate(self, url: str | None = None) -> None:
        """Drop one server's entry, or every entry (in every process)."""
        self.versions.bump(url)
        with self._lock:
            if url is None:
                self._entries.clear()
            else:
                self._entries.pop(url, None)

    def watch(self, url: str, job_id: str) -> None:
        """Drop ``url``'s entry once job ``job_id`` is seen finished."""
        self.versions.watch(url, job_id)
        self.invalidate(url)

    def first_seen(self, name: str, digests: dict[str, str]) -> bool:
        """True (and remembered) when this model map differs from the last one
        written, so an unchanged fleet costs no store write per listing."""
        with self._lock:
            if self._recorded.get(name) == digests:
                return False
            self._recorded[name] = dict(digests)
            return True
