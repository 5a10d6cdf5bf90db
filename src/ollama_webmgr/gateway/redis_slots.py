"""The gateway's per-server slots on Redis, shared by several gateway processes.

Same interface as ``limiter.Slots``. Each held slot is a *lease*: a member of
the sorted set ``<prefix>:gw:slots:<server>`` whose score is its expiry time
(Redis' own clock, so hosts need not agree on the time). Taking a slot is one
Lua script: drop expired leases, compare the count with the limit, add the
lease. A thread of the holding process pushes the expiry of its leases forward
every ``lease_ttl / 3`` seconds while the requests run, so a process that dies
(SIGKILL, OOM) frees its slots within ``lease_ttl`` seconds instead of never.
A process frozen for longer than ``lease_ttl`` loses its leases: the count is
then briefly too low, never stuck too high.

Waiting requests are members of ``<prefix>:gw:queue:<server>`` (expiring the
same way, after their timeout); the queue's size is the fleet-wide bound. A
waiter polls with a short exponential backoff (5 ms to 100 ms): simpler than
wake-up messages, and a slot freed is taken within 100 ms. The queue is not
strictly first-come first-served, like the in-process one.

A server without a limit (0, the default) has nothing to share: its slots are
taken in the process, without a round trip to Redis, and its in-flight count
(which only orders the candidates) is then this process's own.

Redis unreachable: the gateway keeps serving with per-process slots (a
``limiter.Slots``) and logs it; the limits are then per process until Redis
answers again (tried again every ``_RETRY_AFTER`` seconds, so an outage does not
add a failed connection to every request). A slot taken that way is given back
the same way.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from contextlib import suppress
from typing import Any

import redis

from ollama_webmgr.gateway.limiter import Slots

log = logging.getLogger(__name__)
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
# KEYS: slots, queue. ARGV: limit, lease, ttl, waiter ('' if none).
# 1: taken (the waiter leaves the queue); 0: full.
_TAKE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[1])
if limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 2000))
if ARGV[4] ~= '' then redis.call('ZREM', KEYS[2], ARGV[4]) end
return 1
"""
)
# KEYS: slots, queue. ARGV: limit, lease, ttl, waiter, queue size, wait ttl.
# 1: slot taken at once; 0: queued; -1: the queue is full.
_ENQUEUE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[1])
if limit == 0 or redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3]) * 2000))
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return -1 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[6]), ARGV[4])
redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[6]) * 1000))
return 0
"""
)
# KEYS: a slots or queue set. The members that have not expired.
_COUNT = _NOW + "return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')"
# KEYS: slots. ARGV: ttl, leases... Only leases still present are extended.
_REFRESH = (
    _NOW
    + """
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[1]) * 2000))
return 0
"""
)
_FIRST_POLL, _MAX_POLL = 0.005, 0.1
_LOCAL = "local"  # the "lease" of a slot taken while Redis was unreachable
_WARN_EVERY = 30.0  # seconds between two warnings about Redis
_RETRY_AFTER = 5.0  # seconds of per-process slots after a Redis failure


class RedisSlots:
    """``SlotTable`` shared through Redis; one instance per process."""

    def __init__(
        self,
        connection: redis.Redis,
        prefix: str,
        *,
        lease_ttl: float = 30.0,
        count_ttl: float = 0.05,
    ) -> None:
        self._redis = connection
        self._prefix = f"{prefix}:gw"
        self.lease_ttl = lease_ttl
        self._count_ttl = count_ttl
        self._take = connection.register_script(_TAKE)
        self._enqueue = connection.register_script(_ENQUEUE)
        self._count = connection.register_script(_COUNT)
        self._refresh = connection.register_script(_REFRESH)
        self._token = uuid.uuid4().hex[:12]
        self._serial = 0
        self._lock = threading.Lock()
        self._held: defaultdict[str, list[str]] = defaultdict(list)
        self._counts: dict[str, tuple[float, int]] = {}
        self._beat_pid = 0  # the process whose heartbeat thread runs
        self._local = Slots()
        self._warned = -_WARN_EVERY
        self._retry_at = 0.0  # time.monotonic() before which Redis is not asked

    # --- counts (cached briefly: they only order the candidates) -----------
    def in_flight(self, server: str) -> int:
        shared = self._counted(server, self._slots_key(server))
        return shared + self._local.in_flight(server)

    def in_flight_here(self, server: str) -> int:
        """No round trip: a server without a limit holds no lease in Redis."""
        return self._local.in_flight(server)

    def waiting(self, server: str) -> int:
        shared = self._counted("queue:" + server, self._queue_key(server))
        return shared + self._local.waiting(server)

    def _counted(self, name: str, key: str) -> int:
        now = time.monotonic()
        cached = self._counts.get(name)
        if cached is not None and now - cached[0] < self._count_ttl:
            return cached[1]
        if self._down():
            return 0
        try:
            value = int(self._count(keys=[key]))
        except redis.RedisError as exc:
            self._warn(exc)
            return 0
        self._counts[name] = (now, value)
        return value

    # --- taking and giving back ----------------------------------------------
    def try_acquire(self, server: str, limit: int) -> bool:
        if limit <= 0 or self._down():
            # no limit: no fleet-wide bound to keep, so no round trip to Redis
            # on the hot path; its requests are counted in this process only
            return self._take_local(server, self._local.try_acquire(server, limit))
        lease = self._new_lease()
        keys = [self._slots_key(server), self._queue_key(server)]
        try:
            if not self._take(keys=keys, args=[limit, lease, self.lease_ttl, ""]):
                return False
        except redis.RedisError as exc:
            self._warn(exc)
            return self._take_local(server, self._local.try_acquire(server, limit))
        self._hold(server, lease)
        return True

    def acquire(
        self, server: str, limit: int, *, queue_size: int, timeout: float
    ) -> bool:
        """Wait in the server's fleet-wide queue; False when full or time is up."""
        deadline = time.monotonic() + timeout
        try:
            if not self._down():
                return self._wait(server, limit, queue_size, timeout)
        except redis.RedisError as exc:
            self._warn(exc)
        left = max(0.0, deadline - time.monotonic())
        got = self._local.acquire(server, limit, queue_size=queue_size, timeout=left)
        return self._take_local(server, got)

    def _wait(self, server: str, limit: int, queue_size: int, timeout: float) -> bool:
        lease, waiter = self._new_lease(), self._new_lease()
        keys = [self._slots_key(server), self._queue_key(server)]
        wait_ttl = timeout + self.lease_ttl
        args: list[Any] = [limit, lease, self.lease_ttl, waiter, queue_size, wait_ttl]
        got = int(self._enqueue(keys=keys, args=args))
        if got != 0:
            if got == 1:
                self._hold(server, lease)
            return got == 1
        deadline, delay = time.monotonic() + timeout, _FIRST_POLL
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, _MAX_POLL)
                if self._take(keys=keys, args=[limit, lease, self.lease_ttl, waiter]):
                    self._hold(server, lease)
                    return True
            return False
        finally:
            with suppress(redis.RedisError):
                self._redis.zrem(keys[1], waiter)

    def release(self, server: str) -> None:
        with self._lock:
            held = self._held.get(server)
            lease = held.pop() if held else None
            if lease is not None and lease != _LOCAL:
                self._adjust(server, -1)
        if lease == _LOCAL:
            self._local.release(server)
        elif lease is not None and not self._down():
            try:
                self._redis.zrem(self._slots_key(server), lease)
            except redis.RedisError as exc:  # the lease expires by itself
                self._warn(exc)

    def _take_local(self, server: str, got: bool) -> bool:
        if got:
            with self._lock:
                self._held[server].append(_LOCAL)
        return got

    def _down(self) -> bool:
        return time.monotonic() < self._retry_at

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        self._retry_at = now + _RETRY_AFTER
        if now - self._warned >= _WARN_EVERY:
            self._warned = now
            log.warning("Redis unreachable, gateway limits per process: %s", exc)

    def _adjust(self, server: str, change: int) -> None:
        """Count our own take or release in the cached count (lock held)."""
        cached = self._counts.get(server)
        if cached is not None:
            self._counts[server] = (cached[0], max(0, cached[1] + change))

    # --- leases ----------------------------------------------------------------
    def _slots_key(self, server: str) -> str:
        return f"{self._prefix}:slots:{server}"

    def _queue_key(self, server: str) -> str:
        return f"{self._prefix}:queue:{server}"

    def _new_lease(self) -> str:
        with self._lock:
            self._serial += 1
            # the pid too: a gunicorn worker forked from a master that built
            # this object must not reuse its siblings' names
            return f"{self._token}:{os.getpid()}:{self._serial}"

    def _hold(self, server: str, lease: str) -> None:
        with self._lock:
            self._held[server].append(lease)
            self._adjust(server, 1)
            if self._beat_pid != os.getpid():
                self._beat_pid = os.getpid()
                threading.Thread(
                    target=self._heartbeat, name="gateway-leases", daemon=True
                ).start()

    def refresh(self) -> None:
        """Push the expiry of every lease this process holds forward."""
        with self._lock:
            held = {
                server: [lease for lease in leases if lease != _LOCAL]
                for server, leases in self._held.items()
            }
        for server, leases in held.items():
            if leases:
                self._refresh(
                    keys=[self._slots_key(server)], args=[self.lease_ttl, *leases]
                )

    def _heartbeat(self) -> None:
        pid = os.getpid()
        while self._beat_pid == pid:
            time.sleep(self.lease_ttl / 3)
            try:
                self.refresh()
            except redis.RedisError as exc:  # retried at the next beat
                log.warning("gateway slot leases not refreshed: %s", exc)
