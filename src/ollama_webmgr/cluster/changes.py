"""Which servers' model lists changed: the facts the web cache and the gateway share.

Every write to a server's models (a pull, create, delete or copy, through the
web app, a job or the gateway) bumps that server's *version*; whoever holds a
listing read under an older version knows it may be stale: the web app's
``ModelsCache`` (``manager/cache.py``) serves it no more, the gateway's model map
(``cluster/models.py``) lists the server again before it answers that a model
is missing. A pull runs for a while, maybe in another process (an RQ worker):
it is also *watched* until a reader sees its job finished.

In one process the versions live here (``LocalVersions``); with several
processes (``REDIS_URL``) they live in Redis (``RedisVersions``), so a write
through one process is seen by every other at once. With Redis unreachable the
version is a fresh random one: nothing is taken as up to date.

>>> versions = LocalVersions()
>>> before = versions.current("http://a:11434")
>>> versions.bump("http://a:11434")
>>> versions.current("http://a:11434") == before
False
"""

from __future__ import annotations

import logging
import threading
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


def settle(
    versions: Versions, url: str, is_finished: Callable[[str], bool]
) -> set[str]:
    """Forget ``url``'s watched jobs that are finished, bumping its version if
    any was (what they wrote is then read again); the ones still running.

    >>> versions = LocalVersions()
    >>> versions.watch("u", "job-1"); versions.watch("u", "job-2")
    >>> before = versions.current("u")
    >>> sorted(settle(versions, "u", lambda job_id: job_id == "job-1"))
    ['job-2']
    >>> versions.current("u") == before, sorted(versions.watched("u"))
    (False, ['job-2'])
    """
    watched = versions.watched(url)
    done = {job_id for job_id in watched if is_finished(job_id)}
    if done:
        versions.unwatch(url, done)
        versions.bump(url)
    return watched - done
