"""Which process does the once-per-fleet chores.

Every web and gateway process probes the servers (it routes on what it sees),
but writing the health history, the model map, the node hardware and the
store's upkeep once is enough: with several processes sharing Redis, the one
holding a short lease (``<prefix>:duty``, renewed every few seconds) does them,
and another takes over within ``ttl`` seconds when it dies. Alone (no Redis),
a process always holds it. If Redis cannot be reached, each process does the
chores itself: repeated upkeep is harmless, missing it is not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

log = logging.getLogger(__name__)

#: take the lease, or extend it if this process holds it
_CLAIM = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Duty:
    """``held``: whether this process should do the chores now; ``renew()``
    keeps the lease (call it more often than ``ttl``)."""

    def __init__(
        self,
        connection: redis.Redis | None = None,
        prefix: str = "webmgr",
        *,
        ttl: float = 30.0,
    ) -> None:
        self._redis = connection
        self.key = f"{prefix}:duty"
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._ttl_ms = max(1, int(ttl * 1000))
        self.held = connection is None
        self._aside = False

    def stand_aside(self) -> None:
        """Never take the chores while others share Redis (a gateway-only
        process leaves them to the web processes, which also poll the agents)."""
        self._aside = self._redis is not None
        self.release()

    def renew(self) -> bool:
        if self._redis is None:
            return True
        if self._aside:
            return False
        import redis

        try:
            claimed = self._redis.eval(_CLAIM, 1, self.key, self.token, self._ttl_ms)
        except redis.RedisError as exc:
            if not self.held:
                log.warning("Redis unreachable, doing the shared chores here: %s", exc)
            self.held = True
            return True
        if bool(claimed) != self.held:
            log.info("shared chores %s", "taken" if claimed else "left to another")
        self.held = bool(claimed)
        return self.held

    def release(self) -> None:
        """Hand the chores over at once (at shutdown)."""
        if self._redis is None or not self.held:
            return
        import redis

        with contextlib.suppress(redis.RedisError):  # else the lease runs out
            self._redis.eval(_RELEASE, 1, self.key, self.token)
        self.held = False
