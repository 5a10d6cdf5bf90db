"""SSE encoding and job progress streams (memory runner and bus)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jobs_sample_tasks import registry
from jobs_sse_parsing import parse

from ollama_webmgr.api.sse import KEEP_ALIVE, SseEvent, progress_stream
from ollama_webmgr.errors import JobNotFound
from ollama_webmgr.jobs.bus import MemoryBus
from ollama_webmgr.jobs.context import TaskContext
from ollama_webmgr.jobs.runner import ThreadRunner


def test_multi_line_data_becomes_several_data_lines() -> None:
    text = SseEvent('{"a": 1}\r\nsecond\n', event="status").encode()
    assert text == 'event: status\ndata: {"a": 1}\ndata: second\ndata: \n\n'
    assert parse([text])[0].data == '{"a": 1}\nsecond\n'


def test_ids_with_line_breaks_are_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        SseEvent("x", id="1\r\nevent: done").encode()


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def runner(memory_bus: MemoryBus, gate: threading.Event) -> Iterator[ThreadRunner]:
    def two_phases(params: dict[str, Any], ctx: TaskContext) -> str:
        ctx.report("progress", {"status": "phase 1", "completed": 10, "total": 20})
        gate.wait(5)
        ctx.report("progress", {"status": "phase 2", "completed": 20, "total": 20})
        return "ok"

    runner = ThreadRunner({**registry(), "two_phases": two_phases}, memory_bus)
    yield runner
    gate.set()
    runner.shutdown()


def wait_finished(runner: ThreadRunner, job_id: str) -> None:
    deadline = time.monotonic() + 5
    while not runner.get(job_id).finished:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_finished_job_streams_its_state_then_its_events_and_ends(
    runner: ThreadRunner, memory_bus: MemoryBus
) -> None:
    job = runner.submit("count", {"steps": 2})
    wait_finished(runner, job.id)
    events = parse(progress_stream(runner, memory_bus, job.id, None, heartbeat=0.05))
    assert events[0].event == "status"
    assert events[0].id is None
    assert events[0].json()["state"] == "done"
    assert events[0].json()["job"]["id"] == job.id
    assert events[0].retry == "3000"
    assert [e.event for e in events[1:]] == [
        "status",
        "status",
        "progress",
        "progress",
        "status",
        "done",
    ]
    ids = [e.id for e in events[1:]]
    assert ids == sorted(ids, key=int)
    assert events[-1].json() == {"state": "done", "result": {"steps": 2}}


def test_resume_after_last_event_id_sends_only_later_events(
    runner: ThreadRunner, memory_bus: MemoryBus
) -> None:
    job = runner.submit("count", {"steps": 2})
    wait_finished(runner, job.id)
    first = parse(progress_stream(runner, memory_bus, job.id, None, heartbeat=0.05))
    cut = first[3].id
    resumed = parse(progress_stream(runner, memory_bus, job.id, cut, heartbeat=0.05))
    assert resumed[0].event == "status"  # the current state always comes first
    assert [e.id for e in resumed[1:]] == [e.id for e in first[4:]]


def test_reattaching_mid_job_sees_the_current_state_first_then_live_events(
    runner: ThreadRunner, memory_bus: MemoryBus, gate: threading.Event
) -> None:
    job = runner.submit("two_phases", {})
    deadline = time.monotonic() + 5
    while runner.get(job.id).progress.status != "phase 1":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    seen = list(memory_bus.events(job.id, None, timeout=0))
    stream = progress_stream(runner, memory_bus, job.id, seen[-1].id, heartbeat=0.05)
    state = parse([next(stream)])[0].json()
    assert state["state"] == "running"
    assert state["job"]["progress"]["status"] == "phase 1"
    assert state["job"]["progress"]["fraction"] == 0.5
    gate.set()
    rest = [e for e in parse(stream) if not e.comment]
    assert [e.event for e in rest] == ["progress", "done"]
    assert rest[0].json()["status"] == "phase 2"


def test_silence_is_filled_with_keep_alive_comments(
    runner: ThreadRunner, memory_bus: MemoryBus, gate: threading.Event
) -> None:
    job = runner.submit("two_phases", {})
    stream = progress_stream(runner, memory_bus, job.id, None, heartbeat=0.05)
    chunks = []
    for chunk in stream:
        chunks.append(chunk)
        if chunks.count(KEEP_ALIVE) == 2:
            break
    gate.set()
    chunks.extend(stream)
    kinds = [e.event for e in parse(chunks) if not e.comment]
    assert kinds[-1] == "done"
    assert chunks[-1].startswith("event: done")


def test_the_stream_ends_on_error(runner: ThreadRunner, memory_bus: MemoryBus) -> None:
    job = runner.submit("not_found", {})
    events = parse(progress_stream(runner, memory_bus, job.id, None, heartbeat=0.05))
    assert events[-1].event == "error"
    assert events[-1].json()["code"] == "not_found"


def test_a_finished_job_whose_events_expired_still_ends_with_its_outcome() -> None:
    bus = MemoryBus(retention=0.0)
    runner = ThreadRunner(registry(), bus)
    try:
        job = runner.submit("crash", {})
        wait_finished(runner, job.id)
        time.sleep(0.01)
        events = parse(progress_stream(runner, bus, job.id, None, heartbeat=0.05))
    finally:
        runner.shutdown()
    assert [e.event for e in events] == ["status", "error"]
    assert events[1].id is None
    assert events[1].json()["message"] == "RuntimeError: task bug"


def test_an_unknown_job_raises_before_anything_is_sent(
    runner: ThreadRunner, memory_bus: MemoryBus
) -> None:
    with pytest.raises(JobNotFound):
        progress_stream(runner, memory_bus, "missing", None)
