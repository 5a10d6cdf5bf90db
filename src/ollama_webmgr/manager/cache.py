"""A per-server cache of ``/api/tags`` answers, kept in each web process.

Entries expire after a TTL (``MODELS_CACHE_TTL``) and are dropped by pull,
delete and copy. A pull may run in another process (an RQ worker), so the cache
also remembers the jobs that will change a server: the first read that finds
one of them finished drops the entry. That works the same with both runners.

Dropping goes through a per-server *version*: an entry is only served while the
server's version is the one read before it was fetched. In one process the
versions and the watched jobs live here (``LocalVersions``); with several web
workers (``REDIS_URL``) they live in Redis (``RedisVersions``), so a delete
through one worker makes every worker's entry stale at once, and any worker
notices a pull finished, whoever submitted it. The listings themselves stay
per process: only the small "this is stale" facts are shared. With Redis
unreachable nothing is served from the cache (every read asks the servers)
rather than something possibly stale.

>>> cache = ModelsCache(clock=lambda: 10.0)
>>> cache.put("http://a:11434", ["m"])
>>> cache.get("http://a:11434", ttl=5.0)
['m']
>>> cache.invalidate("http://a:11434")
>>> cache.get("http://a:11434", ttl=5.0) is None
True
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)


class Versions(Protocol):
    """Where the cache's "made stale" facts live."""

    def current(self, url: str) -> str: ...

    def bump(self, url: str | None) -> None:
        """Make ``url``'s entries (every entry with ``None``) stale everywhere."""

    def watch(self, url: str, job_id: str) -> None: ...

    def watched(self, url: str) -> set[str]: ...

    def unwatch(self, url: str, job_ids: set[str]) -> None: ...


@dataclass
class LocalVersions:
    """The versions of one process."""

    _versions: dict[str, int] = field(default_factory=dict)
    _all: int = 0
    _watched: dict[str, set[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def current(self, url: str) -> str:
        return f"{self._all}.{self._versions.get(url, 0)}"

    def bump(self, url: str | None) -> None:
        with self._lock:
            if url is None:
                self._all += 1
            else:
                self._versions[url] = self._versions.get(url, 0) + 1

    def watch(self, url: str, job_id: str) -> None:
        with self._lock:
            self._watched.setdefault(url, set()).add(job_id)

    def watched(self, url: str) -> set[str]:
        with self._lock:
            return set(self._watched.get(url, ()))

    def unwatch(self, url: str, job_ids: set[str]) -> None:
        with self._lock:
            self._watched[url] = self._watched.get(url, set()) - job_ids


class RedisVersions:
    """The versions shared by every web process: ``<prefix>:models:*`` keys."""

    KEEP = 86400  # seconds; entries live for seconds, watched pulls for hours

    def __init__(self, connection: redis.Redis, prefix: str) -> None:
        import redis

        self._redis = connection
        self._prefix = f"{prefix}:models"
        self._down: type[Exception] = redis.RedisError

    def current(self, url: str) -> str:
        try:
            keys = [f"{self._prefix}:v", self._key("v", url)]
            values: Any = self._redis.mget(keys)
        except self._down as exc:  # a version nothing matches: no cache
            log.warning("model list cache off, Redis unreachable: %s", exc)
            return f"unknown-{uuid.uuid4().hex}"
        return ".".join(_text(v) for v in values)

    def bump(self, url: str | None) -> None:
        key = f"{self._prefix}:v" if url is None else self._key("v", url)
        self._write(key, lambda pipe: pipe.incr(key))

    def watch(self, url: str, job_id: str) -> None:
        key = self._key("watch", url)
        self._write(key, lambda pipe: pipe.sadd(key, job_id))

    def watched(self, url: str) -> set[str]:
        try:
            members: Any = self._redis.smembers(self._key("watch", url))
        except self._down:  # ``current`` serves nothing then
            return set()
        return {_text(m) for m in members}

    def unwatch(self, url: str, job_ids: set[str]) -> None:
        with suppress(self._down):  # they expire with the key
            self._redis.srem(self._key("watch", url), *job_ids)

    def _write(self, key: str, change: Callable[[Any], object]) -> None:
        # Lost when Redis is down: reads serve nothing from the cache then.
        with suppress(self._down):
            pipe = self._redis.pipeline(transaction=False)
            change(pipe)
            pipe.expire(key, self.KEEP)
            pipe.execute()

    def _key(self, kind: str, url: str) -> str:
        return f"{self._prefix}:{kind}:{url}"


def _text(value: bytes | str | None) -> str:
    if value is None:
        return "0"
    return value.decode() if isinstance(value, bytes) else value


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
        watched = self.versions.watched(url)
        if watched and is_finished is not None:
            done = {job_id for job_id in watched if is_finished(job_id)}
            if done:
                self.versions.unwatch(url, done)
                self.versions.bump(url)
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
