"""ThreadRunner: lifecycle, events, cancel, retry, dedupe, concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jobs_sample_tasks import registry

from ollama_webmgr.errors import JobError, JobNotFound
from ollama_webmgr.jobs.bus import MemoryBus
from ollama_webmgr.jobs.context import TaskContext
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.runner import ThreadRunner


def wait_for(
    runner: ThreadRunner, job_id: str, done: Callable[[Job], bool], limit: float = 5.0
) -> Job:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        if done(job):
            return job
        time.sleep(0.01)
    raise AssertionError(f"job stuck as {runner.get(job_id)}")


def finished(job: Job) -> bool:
    return job.finished


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def runner(memory_bus: MemoryBus, gate: threading.Event) -> Iterator[ThreadRunner]:
    def gated(params: dict[str, Any], ctx: TaskContext) -> str:
        ctx.report("status", {"status": "waiting"})
        gate.wait(5)
        return "opened"

    tasks = {**registry(), "gated": gated}
    runner = ThreadRunner(tasks, memory_bus, max_workers=4)
    yield runner
    gate.set()
    runner.shutdown()


def test_a_job_runs_and_its_events_arrive_in_order(
    runner: ThreadRunner, memory_bus: MemoryBus
) -> None:
    job = runner.submit("count", {"steps": 3})
    assert job.state == "queued"
    done = wait_for(runner, job.id, finished)
    assert done.state == "done"
    assert done.result == {"steps": 3}
    assert done.started_at is not None
    assert done.finished_at is not None
    events = list(memory_bus.events(job.id, None, timeout=0))
    assert [e.type for e in events] == [
        "status",  # running
        "status",  # pulling manifest
        "progress",
        "progress",
        "status",  # success
        "done",
    ]
    assert events[-1].data == {"state": "done", "result": {"steps": 3}}
    assert events[3].data["completed"] == 300
    assert events[3].data["fraction"] == 1.0


def test_the_job_keeps_a_snapshot_of_its_last_progress(
    runner: ThreadRunner, gate: threading.Event
) -> None:
    job = runner.submit("gated", {})
    running = wait_for(runner, job.id, lambda j: j.progress.status == "waiting")
    assert running.state == "running"
    gate.set()


def test_a_task_error_is_recorded_with_its_code(
    runner: ThreadRunner, memory_bus: MemoryBus
) -> None:
    job = wait_for(runner, runner.submit("not_found", {}).id, finished)
    assert job.state == "error"
    assert job.error_code == "not_found"
    assert "file does not exist" in (job.error or "")
    last = list(memory_bus.events(job.id, None, timeout=0))[-1]
    assert last.type == "error"
    assert last.data["state"] == "error"
    assert last.data["code"] == "not_found"


def test_a_task_bug_becomes_an_internal_error(runner: ThreadRunner) -> None:
    job = wait_for(runner, runner.submit("crash", {}).id, finished)
    assert (job.state, job.error_code) == ("error", "internal")
    assert job.error == "RuntimeError: task bug"


def test_unknown_kinds_and_params_that_are_not_json_are_refused(
    runner: ThreadRunner,
) -> None:
    with pytest.raises(JobError, match="unknown job kind"):
        runner.submit("nope", {})
    with pytest.raises(JobError, match="JSON"):
        runner.submit("count", {"when": object()})


def test_unknown_job_ids_raise_job_not_found(runner: ThreadRunner) -> None:
    with pytest.raises(JobNotFound):
        runner.get("missing")
    with pytest.raises(JobNotFound):
        runner.cancel("missing")


def test_cancel_stops_a_running_task_that_checks(
    runner: ThreadRunner, memory_bus: MemoryBus
) -> None:
    job = runner.submit("until_cancelled", {"limit": 5})
    wait_for(runner, job.id, lambda j: j.progress.completed is not None)
    asked = runner.cancel(job.id)
    assert asked.cancel_requested
    stopped = wait_for(runner, job.id, finished, limit=2)
    assert stopped.state == "cancelled"
    last = list(memory_bus.events(job.id, None, timeout=0))[-1]
    assert (last.type, last.data["state"]) == ("error", "cancelled")


def test_cancel_of_a_queued_job_stops_it_before_it_starts(
    memory_bus: MemoryBus, gate: threading.Event
) -> None:
    def gated(params: dict[str, Any], ctx: TaskContext) -> None:
        gate.wait(5)

    runner = ThreadRunner({"gated": gated}, memory_bus, max_workers=1)
    try:
        first = runner.submit("gated", {})
        second = runner.submit("gated", {})
        assert runner.cancel(second.id).state == "cancelled"
        gate.set()
        wait_for(runner, first.id, finished)
        assert runner.get(second.id).started_at is None
        assert runner.get(second.id).state == "cancelled"
    finally:
        runner.shutdown()


def test_cancel_of_a_finished_job_changes_nothing(runner: ThreadRunner) -> None:
    job = wait_for(runner, runner.submit("count", {"steps": 1}).id, finished)
    assert runner.cancel(job.id) == job


def test_retry_makes_a_new_job_with_the_same_params(runner: ThreadRunner) -> None:
    failed = wait_for(runner, runner.submit("not_found", {"model": "x"}).id, finished)
    again = runner.retry(failed.id)
    assert again.id != failed.id
    assert (again.kind, again.params, again.retry_of) == (
        "not_found",
        {"model": "x"},
        failed.id,
    )
    assert wait_for(runner, again.id, finished).state == "error"


def test_only_failed_cancelled_or_interrupted_jobs_can_be_retried(
    runner: ThreadRunner,
) -> None:
    done = wait_for(runner, runner.submit("count", {"steps": 1}).id, finished)
    with pytest.raises(JobError, match="only failed jobs"):
        runner.retry(done.id)


def test_a_second_submit_with_the_same_key_joins_the_active_job(
    runner: ThreadRunner, gate: threading.Event
) -> None:
    first = runner.submit("gated", {}, dedupe_key="pull:http://a:11434:qwen")
    second = runner.submit("gated", {}, dedupe_key="pull:http://a:11434:qwen")
    other = runner.submit("gated", {}, dedupe_key="pull:http://b:11434:qwen")
    assert second.id == first.id
    assert other.id != first.id
    gate.set()
    wait_for(runner, first.id, finished)
    # Once the first is over, the same key starts a new job.
    assert runner.submit("gated", {}, dedupe_key="pull:http://a:11434:qwen").id != (
        first.id
    )


def test_several_jobs_run_at_the_same_time(
    runner: ThreadRunner, gate: threading.Event
) -> None:
    jobs = [runner.submit("gated", {}) for _ in range(3)]
    for job in jobs:
        wait_for(runner, job.id, lambda j: j.state == "running")
    assert {j.id for j in runner.list(active_only=True)} == {j.id for j in jobs}
    gate.set()
    for job in jobs:
        assert wait_for(runner, job.id, finished).result == "opened"
    assert runner.list(active_only=True) == []
    assert len(runner.list()) == 3


def test_on_change_sees_every_state(memory_bus: MemoryBus) -> None:
    seen: list[str] = []
    runner = ThreadRunner(
        registry(), memory_bus, on_change=lambda j: seen.append(j.state)
    )
    try:
        wait_for(runner, runner.submit("count", {"steps": 1}).id, finished)
    finally:
        runner.shutdown()
    assert seen[0] == "queued"
    assert "running" in seen
    assert seen[-1] == "done"


def test_only_the_newest_finished_records_are_kept(memory_bus: MemoryBus) -> None:
    runner = ThreadRunner(registry(), memory_bus, max_workers=1, keep_finished=2)
    try:
        ids = [runner.submit("count", {"steps": 1}).id for _ in range(4)]
        wait_for(runner, ids[-1], finished)
    finally:
        runner.shutdown()
    assert [j.id for j in runner.list()] == ids[:1:-1]


def test_jobs_restored_after_a_restart_are_interrupted_if_they_were_active(
    memory_bus: MemoryBus,
) -> None:
    saved: dict[str, Job] = {}
    before = ThreadRunner(
        registry(), memory_bus, on_change=lambda j: saved.update({j.id: j})
    )
    try:
        done = wait_for(before, before.submit("count", {"steps": 1}).id, finished)
        running = before.submit("until_cancelled", {"limit": 5}, dedupe_key="k")
        wait_for(before, running.id, lambda j: j.state == "running")
        snapshot = list(saved.values())  # what the store holds when the process dies
        before.cancel(running.id)
    finally:
        before.shutdown()
    after = ThreadRunner(registry(), MemoryBus())
    try:
        after.restore(snapshot)
        assert after.get(done.id).state == "done"
        lost = after.get(running.id)
        assert (lost.state, lost.error_code) == ("interrupted", "interrupted")
        retried = after.retry(running.id)
        assert (retried.retry_of, retried.dedupe_key) == (running.id, "k")
        assert after.submit("count", {"steps": 1}, dedupe_key="k").id == retried.id
        after.cancel(retried.id)
    finally:
        after.shutdown()


def test_stopping_the_process_interrupts_running_and_queued_jobs(
    memory_bus: MemoryBus,
) -> None:
    """A pull under way ends ``interrupted`` at its next progress line, not when
    its download would end; a waiting one at once; both can be retried."""
    runner = ThreadRunner(registry(), memory_bus, max_workers=1)
    try:
        running = runner.submit("until_cancelled", {"limit": 60})
        waiting = runner.submit("until_cancelled", {"limit": 60})
        wait_for(runner, running.id, lambda job: job.progress.completed is not None)
        started = time.monotonic()
        ended = runner.interrupt_all(timeout=3)
        assert time.monotonic() - started < 1
        assert {job.id: job.state for job in ended} == {
            running.id: "interrupted",
            waiting.id: "interrupted",
        }
        assert runner.get(running.id).error_code == "interrupted"
        assert not runner.get(running.id).cancel_requested
        last = list(memory_bus.events(running.id, None, timeout=0))[-1]
        assert last.data["state"] == "interrupted"  # the page's stream ends
    finally:
        runner.shutdown()
