"""MemoryBus: ordering, replay, blocking for live events, retention."""

from __future__ import annotations

import threading
import time

import pytest

from ollama_webmgr.errors import JobError
from ollama_webmgr.jobs.bus import MemoryBus
from waiting import blocked_in, wait_until


def test_events_come_back_in_publish_order_with_increasing_ids(
    memory_bus: MemoryBus,
) -> None:
    ids = [memory_bus.publish("j", "progress", {"n": n}) for n in range(5)]
    events = list(memory_bus.events("j", None, timeout=0))
    assert [e.id for e in events] == ids
    assert [e.data["n"] for e in events] == [0, 1, 2, 3, 4]


def test_replay_starts_after_the_given_id(memory_bus: MemoryBus) -> None:
    ids = [memory_bus.publish("j", "status", {"n": n}) for n in range(4)]
    events = list(memory_bus.events("j", ids[1], timeout=0))
    assert [e.data["n"] for e in events] == [2, 3]


def test_an_id_from_elsewhere_replays_from_the_start(memory_bus: MemoryBus) -> None:
    memory_bus.publish("j", "status", {"n": 0})
    events = list(memory_bus.events("j", "not-an-id\r\n", timeout=0))
    assert [e.data["n"] for e in events] == [0]


def test_streams_of_two_jobs_are_separate(memory_bus: MemoryBus) -> None:
    memory_bus.publish("a", "status", {"job": "a"})
    memory_bus.publish("b", "status", {"job": "b"})
    assert [e.data for e in memory_bus.events("a", None, timeout=0)] == [{"job": "a"}]


def test_a_waiting_reader_receives_a_live_event_quickly(memory_bus: MemoryBus) -> None:
    received: list[float] = []

    def read() -> None:
        for _event in memory_bus.events("j", None, timeout=2.0):
            received.append(time.monotonic())
            return

    reader = threading.Thread(target=read)
    reader.start()
    wait_until(lambda: blocked_in(reader, "wait"), what="the reader waiting")
    sent = time.monotonic()
    memory_bus.publish("j", "progress", {})
    reader.join(3)
    assert received
    assert received[0] - sent < 0.5  # woken by the publish, not by the 2 s timeout


def test_events_return_after_the_timeout_of_silence(memory_bus: MemoryBus) -> None:
    start = time.monotonic()
    assert list(memory_bus.events("j", None, timeout=0.2)) == []
    assert 0.15 < time.monotonic() - start < 1.0


def test_unknown_event_types_are_refused(memory_bus: MemoryBus) -> None:
    with pytest.raises(JobError, match="unknown event type"):
        memory_bus.publish("j", "bogus", {})


def test_streams_keep_only_the_newest_events() -> None:
    bus = MemoryBus(max_events=3)
    for n in range(10):
        bus.publish("j", "progress", {"n": n})
    assert [e.data["n"] for e in bus.events("j", None, timeout=0)] == [7, 8, 9]


def test_nothing_follows_the_last_event(memory_bus: MemoryBus) -> None:
    memory_bus.publish("j", "progress", {"n": 1})
    assert memory_bus.publish_last("j", "error", {"state": "cancelled"})
    assert memory_bus.publish("j", "progress", {"n": 2}) == ""  # a late task event
    events = list(memory_bus.events("j", None, timeout=0))
    assert [e.type for e in events] == ["progress", "error"]


def test_closed_streams_disappear_after_the_retention_time() -> None:
    now = [100.0]
    bus = MemoryBus(retention=60.0, clock=lambda: now[0])
    bus.publish_last("old", "done", {})
    bus.publish("live", "progress", {})
    now[0] += 30
    assert bus.stream_count() == 2
    now[0] += 31
    assert bus.stream_count() == 1
    assert list(bus.events("live", None, timeout=0))
