"""Gateway slots shared through the real Redis: two ``RedisSlots`` objects stand
for two gateway processes (each has its own leases and heartbeat)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from ollama_webmgr.gateway.limiter import SlotTable

pytestmark = pytest.mark.redis
redis = pytest.importorskip("redis")

from ollama_webmgr.gateway.redis_slots import RedisSlots  # noqa: E402


def test_two_processes_share_one_limit(redis_conn: Any, redis_prefix: str) -> None:
    first: SlotTable = RedisSlots(redis_conn, redis_prefix, count_ttl=0)
    second: SlotTable = RedisSlots(redis_conn, redis_prefix, count_ttl=0)
    assert first.try_acquire("a", limit=2)
    assert second.try_acquire("a", limit=2)
    assert not first.try_acquire("a", limit=2)
    assert not second.try_acquire("a", limit=2)
    assert second.try_acquire("b", limit=2)  # another server, its own count
    assert (first.in_flight("a"), second.in_flight("a")) == (2, 2)
    first.release("a")
    assert second.try_acquire("a", limit=2)
    assert not first.try_acquire("a", limit=2)
    assert first.try_acquire("a", limit=0)  # 0: unlimited, nothing to share
    assert (first.in_flight("a"), second.in_flight("a")) == (3, 2)


def test_an_unlimited_slot_takes_no_lease(redis_conn: Any, redis_prefix: str) -> None:
    """The hot path of a server without a limit (the default) writes nothing."""
    slots = RedisSlots(redis_conn, redis_prefix, count_ttl=0)
    assert slots.try_acquire("a", limit=0)
    assert slots.in_flight("a") == 1
    assert not redis_conn.exists(f"{redis_prefix}:gw:slots:a")
    slots.release("a")
    assert slots.in_flight("a") == 0


def test_ordering_an_unlimited_server_asks_nothing_of_redis(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The balancer orders servers without a limit by this process's count: with
    Redis unreachable, that read neither fails nor tries to connect."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = redis.Redis(port=port, socket_connect_timeout=0.2)
    slots: SlotTable = RedisSlots(unreachable, "nowhere", count_ttl=0)
    assert slots.try_acquire("a", limit=0)
    assert slots.try_acquire("a", limit=0)
    with caplog.at_level("WARNING"):
        assert slots.in_flight_here("a") == 2
    assert not caplog.records
    with caplog.at_level("WARNING"):
        assert slots.in_flight("a") == 2  # the fleet-wide count does try
    assert "Redis unreachable" in caplog.text


def test_a_waiter_gets_the_slot_another_process_frees(
    redis_conn: Any, redis_prefix: str
) -> None:
    holder = RedisSlots(redis_conn, redis_prefix, count_ttl=0)
    waiter = RedisSlots(redis_conn, redis_prefix, count_ttl=0)
    assert holder.try_acquire("a", limit=1)
    threading.Timer(0.3, holder.release, args=("a",)).start()
    started = time.monotonic()
    assert waiter.acquire("a", 1, queue_size=4, timeout=10)
    assert 0.25 < time.monotonic() - started < 5
    assert waiter.in_flight("a") == 1
    assert waiter.waiting("a") == 0


def test_full_queue_refuses_and_time_out_gives_up(
    redis_conn: Any, redis_prefix: str
) -> None:
    holder = RedisSlots(redis_conn, redis_prefix, count_ttl=0)
    queued = RedisSlots(redis_conn, redis_prefix, count_ttl=0)
    refused = RedisSlots(redis_conn, redis_prefix, count_ttl=0)
    assert holder.try_acquire("a", limit=1)
    outcome: list[bool] = []
    thread = threading.Thread(
        target=lambda: outcome.append(queued.acquire("a", 1, queue_size=1, timeout=1.0))
    )
    thread.start()
    deadline = time.monotonic() + 5
    while refused.waiting("a") < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert refused.waiting("a") == 1
    # the fleet-wide queue (size 1) is full: refused at once, not after a wait
    started = time.monotonic()
    assert not refused.acquire("a", 1, queue_size=1, timeout=10)
    assert time.monotonic() - started < 1
    thread.join(10)
    assert outcome == [False]  # nobody released within its timeout
    assert refused.waiting("a") == 0
    assert refused.in_flight("a") == 1


_HOLD = """
import sys, time, redis
from ollama_webmgr.gateway.redis_slots import RedisSlots
slots = RedisSlots(redis.Redis.from_url("redis://127.0.0.1:6379/0"), sys.argv[1], lease_ttl=0.6)
assert slots.try_acquire("a", limit=1)
print("held", flush=True)
time.sleep(60)
"""


def test_a_killed_process_frees_its_slots_when_leases_expire(
    redis_conn: Any, redis_prefix: str
) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD, redis_prefix], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "held"
            alive = RedisSlots(redis_conn, redis_prefix, lease_ttl=0.6, count_ttl=0)
            time.sleep(1.0)  # its heartbeat keeps the lease while it lives
            assert not alive.try_acquire("a", limit=1)
            process.send_signal(signal.SIGKILL)
            process.wait(5)
            started = time.monotonic()
            assert alive.acquire("a", 1, queue_size=1, timeout=10)
            assert time.monotonic() - started < 2
            assert alive.in_flight("a") == 1
        finally:
            process.kill()


def test_a_living_process_keeps_its_leases(redis_conn: Any, redis_prefix: str) -> None:
    holder = RedisSlots(redis_conn, redis_prefix, lease_ttl=0.6, count_ttl=0)
    other = RedisSlots(redis_conn, redis_prefix, lease_ttl=0.6, count_ttl=0)
    assert holder.try_acquire("a", limit=1)
    time.sleep(2.0)  # several lease lifetimes: the heartbeat renews it
    assert not other.try_acquire("a", limit=1)
    assert other.in_flight("a") == 1
    holder.release("a")
    assert other.try_acquire("a", limit=1)


def test_the_gateway_shares_its_slots_when_redis_is_configured(
    redis_prefix: str,
) -> None:
    from ollama_webmgr.gateway.limiter import Slots
    from ollama_webmgr.runtime.gateway import build_gateway
    from ollama_webmgr.settings import Settings

    shared = build_gateway(
        Settings(redis_url="redis://127.0.0.1:6379/0", redis_prefix=redis_prefix)
    )
    assert isinstance(shared.app.slots, RedisSlots)
    assert type(build_gateway(Settings()).app.slots) is Slots


def test_without_redis_the_limits_hold_per_process() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from ollama_webmgr.runtime.gateway import build_gateway
    from ollama_webmgr.settings import Settings

    settings = Settings(redis_url=f"redis://127.0.0.1:{port}/0")
    slots = build_gateway(settings).app.slots
    assert isinstance(slots, RedisSlots)
    started = time.monotonic()
    assert slots.try_acquire("a", limit=1)
    assert time.monotonic() - started < 1  # fails fast, then stops asking
    assert not slots.try_acquire("a", limit=1)
    assert slots.in_flight("a") == 1
    threading.Timer(0.2, slots.release, args=("a",)).start()
    assert slots.acquire("a", 1, queue_size=1, timeout=10)
    assert not slots.acquire("a", 1, queue_size=0, timeout=10)
    slots.release("a")
    assert slots.in_flight("a") == 0
