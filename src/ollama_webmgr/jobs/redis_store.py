"""Job records in Redis, shared by web processes and RQ workers.

Keys under ``<prefix>:``: ``job:<id>`` (the record as JSON), ``job:<id>:cancel``
(cancel requested), ``job:<id>:alive`` (refreshed by the worker running it; when it
expires the worker is gone), ``jobs`` (sorted set of ids by creation time) and
``dedupe:<key>`` (id of the active job holding a dedupe key).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import redis

from ollama_webmgr.errors import JobNotFound
from ollama_webmgr.jobs.model import Job, Progress

# Deletes a key only if it still holds the given value (our dedupe claim).
_DELETE_IF_EQUAL = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""

log = logging.getLogger(__name__)
FINISHED_RECORD_TTL = 7 * 86400
CANCEL_FLAG_TTL = 86400


class RedisJobStore:
    def __init__(
        self,
        connection: redis.Redis,
        prefix: str,
        *,
        alive_ttl: float = 10.0,
        on_change: Callable[[Job], None] | None = None,
    ) -> None:
        self.redis = connection
        self.prefix = prefix
        self.alive_ttl = alive_ttl
        self._on_change = on_change

    def notify(self, job: Job) -> None:
        """Tell ``on_change`` (e.g. the store's jobs table); its failures are logged."""
        if self._on_change is None:
            return
        try:
            self._on_change(job)
        except Exception:  # a broken recorder must not break the job
            log.exception("job on_change hook failed for %s", job.id)

    def job_key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def dedupe_key(self, key: str) -> str:
        return f"{self.prefix}:dedupe:{key}"

    @property
    def index_key(self) -> str:
        return f"{self.prefix}:jobs"

    def load(self, job_id: str) -> Job:
        raw: Any = self.redis.get(self.job_key(job_id))
        if raw is None:
            raise JobNotFound(f"no job {job_id!r}")
        return Job.from_json(raw)

    def load_many(self, job_ids: list[str]) -> list[Job]:
        if not job_ids:
            return []
        raws: Any = self.redis.mget([self.job_key(i) for i in job_ids])
        missing = [i for i, raw in zip(job_ids, raws, strict=True) if raw is None]
        if missing:
            self.redis.zrem(self.index_key, *missing)
        return [Job.from_json(raw) for raw in raws if raw is not None]

    def recent_ids(self, limit: int) -> list[str]:
        ids: Any = self.redis.zrevrange(self.index_key, 0, limit - 1)
        return [i.decode() if isinstance(i, bytes) else i for i in ids]

    def save(self, job: Job, *, notify: bool = True) -> None:
        pipe = self.redis.pipeline()
        ttl = FINISHED_RECORD_TTL if job.finished else None
        pipe.set(self.job_key(job.id), job.to_json(), ex=ttl)
        pipe.zadd(self.index_key, {job.id: job.created_at})
        if job.finished and job.dedupe_key:
            pipe.eval(_DELETE_IF_EQUAL, 1, self.dedupe_key(job.dedupe_key), job.id)
        pipe.execute()
        if notify:
            self.notify(job)

    def delete(self, job: Job) -> None:
        self.redis.delete(self.job_key(job.id))
        self.redis.zrem(self.index_key, job.id)

    def claim_dedupe(self, key: str, job_id: str) -> bool:
        return bool(self.redis.set(self.dedupe_key(key), job_id, nx=True))

    def dedupe_holder(self, key: str) -> str | None:
        raw: Any = self.redis.get(self.dedupe_key(key))
        return raw.decode() if isinstance(raw, bytes) else raw

    def release_dedupe(self, key: str, job_id: str) -> None:
        self.redis.eval(_DELETE_IF_EQUAL, 1, self.dedupe_key(key), job_id)

    def change(self, job_id: str, fn: Callable[[Job], Job | None]) -> Job | None:
        """Read-modify-write under ``WATCH``; ``fn`` returns ``None`` to leave it."""
        key = self.job_key(job_id)

        def attempt(pipe: Any) -> Job | None:
            raw = pipe.get(key)
            if raw is None:
                return None
            new = fn(Job.from_json(raw))
            if new is not None:
                pipe.multi()
                ttl = FINISHED_RECORD_TTL if new.finished else None
                pipe.set(key, new.to_json(), ex=ttl)
            return new

        result: Any = self.redis.transaction(
            attempt,  # type: ignore[arg-type]  # redis-py types the callable as -> None
            key,
            value_from_callable=True,
        )
        changed = cast(Job | None, result)
        if changed is not None:
            self.notify(changed)
        return changed

    def start(self, job_id: str) -> Job | None:
        return self.change(
            job_id, lambda j: j.with_state("running") if j.state == "queued" else None
        )

    def update_progress(self, job_id: str, progress: Progress) -> None:
        self.change(job_id, lambda j: replace(j, progress=progress))

    def request_cancel(self, job_id: str) -> None:
        key = f"{self.job_key(job_id)}:cancel"
        # nx: a second click must not push the force-stop deadline back.
        self.redis.set(key, repr(time.time()), ex=CANCEL_FLAG_TTL, nx=True)

    def cancel_requested(self, job_id: str) -> bool:
        return bool(self.redis.exists(f"{self.job_key(job_id)}:cancel"))

    def interrupting(self) -> bool:
        """A worker stopping is RQ's business (its job is found dead later)."""
        return False

    def cancel_requested_at(self, job_id: str) -> float | None:
        raw: Any = self.redis.get(f"{self.job_key(job_id)}:cancel")
        return None if raw is None else float(raw)

    def touch_alive(self, job_id: str) -> None:
        ttl_ms = max(1, int(self.alive_ttl * 1000))
        self.redis.set(f"{self.job_key(job_id)}:alive", "1", px=ttl_ms)

    def drop_alive(self, job_id: str) -> None:
        self.redis.delete(f"{self.job_key(job_id)}:alive")

    def is_alive(self, job_id: str) -> bool:
        return bool(self.redis.exists(f"{self.job_key(job_id)}:alive"))
