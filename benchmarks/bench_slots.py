"""The gateway's slot bookkeeping per request: in-process ``Slots`` against
``RedisSlots`` (several gateway processes, ``REDIS_URL``).

Each simulated request does what ``gateway/failover.py`` does around a relay: read the
in-flight count of each of 3 servers (the balancer's input), take a slot on the
first, give it back. One thread, no upstream, the real Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable

from ollama_webmgr.gateway.limiter import Slots, SlotTable
from run_all import machine

SERVERS = ("a", "b", "c")
REQUESTS = 3000


def one_request(slots: SlotTable) -> None:
    for name in SERVERS:
        slots.in_flight(name)
    assert slots.try_acquire(SERVERS[0], 8)
    slots.release(SERVERS[0])


def measure(slots: SlotTable) -> list[float]:
    for _ in range(200):  # warm up: scripts loaded, connection open
        one_request(slots)
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        one_request(slots)
        times.append((time.perf_counter() - started) * 1e6)
    return times


def row(label: str, times: list[float]) -> str:
    cuts = statistics.quantiles(times, n=100)
    return f"| {label} | {statistics.median(times):.1f} µs | {cuts[94]:.1f} µs |"


def run() -> str:
    import redis

    from ollama_webmgr.gateway.redis_slots import RedisSlots

    conn = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"bench-slots-{uuid.uuid4().hex[:8]}"
    cases: list[tuple[str, Callable[[], SlotTable]]] = [
        ("in-process `Slots`", Slots),
        (
            "`RedisSlots`, counts cached 50 ms (the default)",
            lambda: RedisSlots(conn, prefix),
        ),
        (
            "`RedisSlots`, counts read every time",
            lambda: RedisSlots(conn, prefix, count_ttl=0),
        ),
    ]
    rows = [row(label, measure(make())) for label, make in cases]
    pings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        conn.ping()
        pings.append((time.perf_counter() - started) * 1e6)
    rows.append(row("(reference: one Redis `PING`)", pings))
    for key in conn.scan_iter(match=f"{prefix}:*"):
        conn.delete(key)
    conn.close()
    return "\n".join(
        [
            "## Gateway slots: one process or shared through Redis",
            "",
            f"Per simulated request ({REQUESTS}, one thread): read the in-flight"
            " count of 3 servers, take a slot, give it back — the bookkeeping"
            " `gateway/failover.py` does around each relay. Redis on loopback."
            f" Machine: {machine()}, shared with other jobs while measuring.",
            "",
            "| slots | p50 | p95 |",
            "|---|---|---|",
            *rows,
            "",
            "Without `REDIS_URL` the gateway keeps the in-process `Slots`. With it,"
            " each request pays two Redis round trips (the take script, the"
            " release) plus the count reads the 50 ms cache does not absorb:"
            " small next to a model's time to first token.",
        ]
    )
