"""Redis connections for short commands on a request's path.

redis-py retries a failed command ten times with backoff by default (seconds);
the gateway's slots and the model list cache would then make every request wait
that long during an outage. They fall back instead (per-process limits, no
cache), so their connection fails fast: one quick retry, short timeouts. Not for
blocking reads (``XREAD BLOCK``: the progress bus has its own connection).
One client (one connection pool) per URL serves the whole process.
"""

from __future__ import annotations

from functools import cache

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry


@cache
def quick_connection(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
    )
