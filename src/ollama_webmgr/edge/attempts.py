"""Failed ``ADMIN_PASSWORD`` attempts, limited per client and for everyone.

Without a limit a script tried 1,660 passwords a second. A client (its
address, ``REMOTE_ADDR`` after trusted proxies) that failed ``PER_CLIENT``
times within ``WINDOW`` seconds is refused until its oldest failure leaves the
window; past ``GLOBAL`` failures within the window from all clients together
(a guess spread over many addresses), every password check waits the same
way. Refused checks are answered 429 with ``Retry-After`` and never compare
the password. Requests without credentials are not attempts. The counts are
per process (a handful of processes multiply them by a handful).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW = 300.0  # seconds
PER_CLIENT = 10
GLOBAL = 100
_CLIENTS_MAX = 10_000  # addresses remembered (the oldest are forgotten)


class AttemptLimiter:
    """Sliding windows of failure times: per client, and all clients together."""

    def __init__(
        self,
        *,
        window: float = WINDOW,
        per_client: int = PER_CLIENT,
        overall: int = GLOBAL,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.window = window
        self.per_client = per_client
        self.overall = overall
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()

    def retry_after(self, client: str) -> int:
        """Seconds before ``client`` may try again; 0 when it may now."""
        now = self._clock()
        with self._lock:
            waits = [self._wait(self._all, self.overall, now)]
            failures = self._clients.get(client)
            if failures is not None:
                waits.append(self._wait(failures, self.per_client, now))
        return max(waits)

    def failed(self, client: str) -> None:
        now = self._clock()
        with self._lock:
            failures = self._clients.pop(client, None) or deque()
            failures.append(now)
            self._clients[client] = failures  # most recent last
            self._all.append(now)
            while len(self._clients) > _CLIENTS_MAX:
                self._clients.popitem(last=False)

    def _wait(self, failures: deque[float], limit: int, now: float) -> int:
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(failures) < limit:
            return 0
        # allowed again once enough of the oldest failures leave the window
        oldest = failures[len(failures) - limit]
        return max(1, int(oldest + self.window - now + 0.999))
