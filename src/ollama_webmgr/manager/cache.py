"""A per-server cache of ``/api/tags`` answers, kept in the web process.

Entries expire after a TTL (``MODELS_CACHE_TTL``) and are dropped by pull,
delete and copy. A pull may run in another process (an RQ worker), so the cache
also remembers the jobs that will change a server: the first read that finds
one of them finished drops the entry. That works the same with both runners.

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


@dataclass
class _Entry:
    fetched: float
    value: Any


@dataclass
class ModelsCache:
    """Thread-safe; values are whatever the caller stores (a list of tags)."""

    clock: Callable[[], float] = time.monotonic
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _watched: dict[str, set[str]] = field(default_factory=dict)
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
        with self._lock:
            watched = set(self._watched.get(url, ()))
        if watched and is_finished is not None:
            done = {job_id for job_id in watched if is_finished(job_id)}
            if done:
                with self._lock:
                    self._watched[url] = self._watched.get(url, set()) - done
                    self._entries.pop(url, None)
        with self._lock:
            entry = self._entries.get(url)
            if entry is None or self.clock() - entry.fetched > ttl:
                return None
            return entry.value

    def put(self, url: str, value: Any) -> None:
        with self._lock:
            self._entries[url] = _Entry(self.clock(), value)

    def fetched_at(self, url: str) -> float | None:
        with self._lock:
            entry = self._entries.get(url)
            return entry.fetched if entry else None

    def invalidate(self, url: str | None = None) -> None:
        """Drop one server's entry, or every entry."""
        with self._lock:
            if url is None:
                self._entries.clear()
            else:
                self._entries.pop(url, None)

    def watch(self, url: str, job_id: str) -> None:
        """Drop ``url``'s entry once job ``job_id`` is seen finished."""
        with self._lock:
            self._watched.setdefault(url, set()).add(job_id)
            self._entries.pop(url, None)

    def first_seen(self, name: str, digests: dict[str, str]) -> bool:
        """True (and remembered) when this model map differs from the last one
        written, so an unchanged fleet costs no store write per listing."""
        with self._lock:
            if self._recorded.get(name) == digests:
                return False
            self._recorded[name] = dict(digests)
            return True
