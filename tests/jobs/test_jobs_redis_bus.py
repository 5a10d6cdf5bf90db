"""RedisBus against the real Redis server: same contract as the memory bus."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis

from ollama_webmgr.jobs.redis_bus import RedisBus
from redis_fixtures import REDIS_URL
from waiting import wait_until

pytestmark = pytest.mark.redis


@pytest.fixture
def bus(redis_conn: Any, redis_prefix: str) -> RedisBus:
    return RedisBus(redis_conn, prefix=redis_prefix, retention=5)


def test_events_come_back_in_order_with_stream_ids(bus: RedisBus) -> None:
    ids = [bus.publish("j", "progress", {"n": n}) for n in range(5)]
    events = list(bus.events("j", None, timeout=0))
    assert [e.id for e in events] == ids
    assert all("-" in i for i in ids)
    assert [e.data["n"] for e in events] == [0, 1, 2, 3, 4]
    assert events[0].type == "progress"


def test_replay_starts_after_the_given_stream_id(bus: RedisBus) -> None:
    ids = [bus.publish("j", "status", {"n": n}) for n in range(4)]
    assert [e.data["n"] for e in bus.events("j", ids[1], timeout=0)] == [2, 3]


def test_a_malformed_last_event_id_replays_from_the_start(bus: RedisBus) -> None:
    bus.publish("j", "status", {"n": 0})
    assert [e.data["n"] for e in bus.events("j", "x\r\ny", timeout=0)] == [0]


def test_a_blocked_reader_gets_live_events_then_returns_after_silence(
    bus: RedisBus, redis_conn: Any, redis_prefix: str
) -> None:
    got: list[tuple[int, float]] = []
    ended: list[float] = []
    # the reader's own named connection, to see it blocked in XREAD on the server
    reading = redis.Redis.from_url(REDIS_URL, client_name=redis_prefix)
    reader_bus = RedisBus(reading, prefix=redis_prefix, retention=5)

    def read() -> None:
        for event in reader_bus.events("j", None, timeout=0.3):
            got.append((event.data["n"], time.monotonic()))
        ended.append(time.monotonic())

    def reader_blocked() -> bool:
        return any(
            c["name"] == redis_prefix and "b" in c["flags"]
            for c in redis_conn.client_list()
        )

    reader = threading.Thread(target=read)
    reader.start()
    wait_until(reader_blocked, what="the reader blocked in XREAD")
    sent = time.monotonic()
    bus.publish("j", "progress", {"n": 1})
    wait_until(lambda: got and reader_blocked(), what="the reader blocked again")
    bus.publish("j", "progress", {"n": 2})
    reader.join(3)
    assert [n for n, _ in got] == [1, 2]
    assert got[0][1] - sent < 0.2
    assert ended[0] - got[1][1] >= 0.25  # waited the silence out
    reading.close()


def test_streams_are_trimmed_and_expire_once_closed(
    redis_conn: Any, redis_prefix: str
) -> None:
    bus = RedisBus(redis_conn, prefix=redis_prefix, max_events=10, retention=2)
    for n in range(500):
        bus.publish("j", "progress", {"n": n})
    assert redis_conn.xlen(bus.key("j")) < 500  # MAXLEN ~ trims by whole nodes
    assert redis_conn.ttl(bus.key("j")) > 3600
    bus.publish_last("j", "done", {"state": "done"})
    assert 0 < redis_conn.ttl(bus.key("j")) <= 2


def test_nothing_follows_the_last_event(redis_conn: Any, redis_prefix: str) -> None:
    bus = RedisBus(redis_conn, prefix=redis_prefix)
    bus.publish("j", "progress", {"n": 1})
    assert bus.publish_last("j", "error", {"state": "cancelled"})
    assert bus.publish("j", "progress", {"n": 2}) == ""  # a late task event
    assert bus.publish_last("j", "done", {}) == ""
    events = list(bus.events("j", None, timeout=0))
    assert [(e.type, e.data) for e in events] == [
        ("progress", {"n": 1}),
        ("error", {"state": "cancelled"}),
    ]
