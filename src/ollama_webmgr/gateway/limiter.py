"""Per-server concurrency limit with a bounded wait queue.

``try_acquire`` takes a slot at once or fails; ``acquire`` waits for one, but
only if fewer than ``queue_size`` requests are already waiting, and at most
``timeout`` seconds. ``in_flight`` feeds the balancer.

``Slots`` counts within one process; ``gateway/redis_slots.py`` implements the
same ``SlotTable`` on Redis for several gateway processes (``REDIS_URL``).

>>> slots = Slots()
>>> slots.try_acquire("a", limit=1), slots.try_acquire("a", limit=1)
(True, False)
>>> slots.in_flight("a")
1
>>> slots.release("a"); slots.in_flight("a")
0
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Protocol


class SlotTable(Protocol):
    """What the gateway needs from a concurrency limiter."""

    def in_flight(self, server: str) -> int: ...

    def in_flight_here(self, server: str) -> int:
        """This process's own requests: enough to order servers without a limit."""
        ...

    def waiting(self, server: str) -> int: ...

    def try_acquire(self, server: str, limit: int) -> bool: ...

    def acquire(
        self, server: str, limit: int, *, queue_size: int, timeout: float
    ) -> bool: ...

    def release(self, server: str) -> None: ...


class Slots:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: defaultdict[str, int] = defaultdict(int)
        self._waiting: defaultdict[str, int] = defaultdict(int)

    def in_flight(self, server: str) -> int:
        return self._active.get(server, 0)

    in_flight_here = in_flight  # one process: its count is the whole count

    def waiting(self, server: str) -> int:
        return self._waiting.get(server, 0)

    def try_acquire(self, server: str, limit: int) -> bool:
        with self._cond:
            if limit and self._active[server] >= limit:
                return False
            self._active[server] += 1
            return True

    def acquire(
        self, server: str, limit: int, *, queue_size: int, timeout: float
    ) -> bool:
        """Wait in the server's queue; False when the queue is full or time is up."""
        with self._cond:
            if not limit or self._active[server] < limit:
                self._active[server] += 1
                return True
            if self._waiting[server] >= queue_size:
                return False
            self._waiting[server] += 1
            try:
                got = self._cond.wait_for(
                    lambda: self._active[server] < limit, timeout=timeout
                )
            finally:
                self._waiting[server] -= 1
            if got:
                self._active[server] += 1
            return got

    def release(self, server: str) -> None:
        with self._cond:
            self._active[server] -= 1
            self._cond.notify_all()
