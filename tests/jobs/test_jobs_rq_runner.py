"""RQRunner with real RQ workers on the real Redis server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psutil
import pytest
from jobs_rq_helpers import (
    burst_workers,
    kill_with_horses,
    run_burst,
    wait_job,
    worker_process,
)
from jobs_sse_parsing import parse

from ollama_webmgr.api.sse import progress_stream
from ollama_webmgr.errors import JobError, JobNotFound
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.rq_runner import RQRunner

pytestmark = pytest.mark.redis


def stream_order(event_id: str) -> tuple[int, int]:
    millis, seq = event_id.split("-")
    return int(millis), int(seq)


def finished(job: Job) -> bool:
    return job.finished


def test_a_job_runs_on_a_worker_and_its_events_are_on_the_stream(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    job = rq_runner.submit("count", {"steps": 3})
    assert rq_runner.get(job.id).state == "queued"
    run_burst(redis_conn, redis_prefix)
    done = rq_runner.get(job.id)
    assert (done.state, done.result) == ("done", {"steps": 3})
    assert done.progress.status == "success"
    events = list(rq_runner.bus.events(job.id, None, timeout=0))
    assert [e.type for e in events] == [
        "status",
        "status",
        "progress",
        "progress",
        "status",
        "done",
    ]
    assert events[3].data["fraction"] == 1.0


def test_sse_resume_works_on_redis_stream_ids(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    job = rq_runner.submit("count", {"steps": 2})
    run_burst(redis_conn, redis_prefix)
    first = parse(
        progress_stream(rq_runner, rq_runner.bus, job.id, None, heartbeat=0.05)
    )
    assert first[0].json()["state"] == "done"
    resumed = parse(
        progress_stream(rq_runner, rq_runner.bus, job.id, first[2].id, heartbeat=0.05)
    )
    assert [e.id for e in resumed[1:]] == [e.id for e in first[3:]]
    assert resumed[-1].event == "done"


def test_errors_are_recorded_with_their_code(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    job = rq_runner.submit("not_found", {})
    run_burst(redis_conn, redis_prefix)
    failed = rq_runner.get(job.id)
    assert (failed.state, failed.error_code) == ("error", "not_found")
    assert rq_runner.retry(job.id).retry_of == job.id


def test_cancel_reaches_a_task_running_on_a_worker(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    job = rq_runner.submit("until_cancelled", {"limit": 8})
    threads = burst_workers(redis_conn, redis_prefix)
    wait_job(rq_runner.get, job.id, lambda j: j.progress.completed is not None)
    assert rq_runner.cancel(job.id).cancel_requested
    stopped = wait_job(rq_runner.get, job.id, finished, limit=3)
    assert stopped.state == "cancelled"
    threads[0].join(5)
    assert not threads[0].is_alive()
    last = list(rq_runner.bus.events(job.id, None, timeout=0))[-1]
    assert (last.type, last.data["state"]) == ("error", "cancelled")


def test_cancel_of_a_queued_job_means_no_worker_runs_it(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    job = rq_runner.submit("count", {"steps": 1})
    assert rq_runner.cancel(job.id).state == "cancelled"
    run_burst(redis_conn, redis_prefix)
    assert rq_runner.get(job.id).started_at is None
    retried = rq_runner.retry(job.id)
    run_burst(redis_conn, redis_prefix)
    assert rq_runner.get(retried.id).state == "done"


def test_the_same_dedupe_key_joins_the_active_job_until_it_ends(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    first = rq_runner.submit("count", {"steps": 1}, dedupe_key="pull:a:qwen")
    assert rq_runner.submit("count", {"steps": 1}, dedupe_key="pull:a:qwen") == first
    other = rq_runner.submit("count", {"steps": 1}, dedupe_key="pull:b:qwen")
    assert other.id != first.id
    assert {j.id for j in rq_runner.list()} == {first.id, other.id}
    run_burst(redis_conn, redis_prefix)
    assert rq_runner.get(first.id).state == "done"
    again = rq_runner.submit("count", {"steps": 1}, dedupe_key="pull:a:qwen")
    assert again.id != first.id


def test_several_jobs_run_at_once_on_several_workers(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    jobs = [rq_runner.submit("count", {"steps": 4, "delay": 0.1}) for _ in range(3)]
    run_burst(redis_conn, redis_prefix, count=3)
    done = [rq_runner.get(j.id) for j in jobs]
    assert [j.state for j in done] == ["done"] * 3
    # They overlapped: every job started before any of them finished.
    assert max(j.started_at or 0 for j in done) < min(j.finished_at or 0 for j in done)
    assert rq_runner.list(active_only=True) == []


def test_unknown_things_are_refused_clearly(rq_runner: RQRunner) -> None:
    with pytest.raises(JobError, match="unknown job kind"):
        rq_runner.submit("nope", {})
    with pytest.raises(JobNotFound):
        rq_runner.get("missing")


def test_a_killed_worker_leaves_the_job_interrupted_and_retryable(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str, tmp_path: Path
) -> None:
    job = rq_runner.submit("stall_once", {"marker": str(tmp_path / "marker")})
    with worker_process(redis_prefix, tmp_path) as worker:
        running = wait_job(
            rq_runner.get, job.id, lambda j: (j.progress.completed or 0) > 2, limit=15
        )
        assert running.state == "running"
        kill_with_horses(worker)
    published = list(rq_runner.bus.events(job.id, None, timeout=0))
    interrupted = wait_job(rq_runner.get, job.id, finished, limit=5)
    assert interrupted.state == "interrupted"
    # Nothing lost: what was published is still there, followed by the error.
    after = list(rq_runner.bus.events(job.id, None, timeout=0))
    assert [e.id for e in after[: len(published)]] == [e.id for e in published]
    assert (after[-1].type, after[-1].data["state"]) == ("error", "interrupted")
    retried = rq_runner.retry(job.id)
    run_burst(redis_conn, redis_prefix)
    assert rq_runner.get(retried.id).result == "second run"


def test_a_task_ignoring_cancel_is_stopped_by_rq_after_the_grace_time(
    redis_conn: Any, redis_prefix: str, tmp_path: Path
) -> None:
    runner = RQRunner(
        redis_conn,
        tasks_ref="jobs_sample_tasks:registry",
        prefix=redis_prefix,
        queue=redis_prefix,
        cancel_grace=0.5,
    )
    job = runner.submit("deaf", {"limit": 20})
    with worker_process(redis_prefix, tmp_path) as worker:
        wait_job(runner.get, job.id, lambda j: j.progress.completed is not None, 15)
        horses = psutil.Process(worker.pid).children(recursive=True)
        assert horses  # the forking worker runs the task in a work horse
        runner.cancel(job.id)
        assert runner.get(job.id).state == "running"  # still within the grace time
        stopped = wait_job(runner.get, job.id, finished, limit=5)
        assert stopped.state == "cancelled"
        _gone, alive = psutil.wait_procs(horses, timeout=5)
        assert alive == []
        assert worker.poll() is None  # the worker itself carries on
    last = list(runner.bus.events(job.id, None, timeout=0))[-1]
    assert (last.type, last.data["state"]) == ("error", "cancelled")


def test_a_page_reattaching_to_a_running_redis_job_sees_its_state_then_live_events(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    job = rq_runner.submit("until_cancelled", {"limit": 8})
    threads = burst_workers(redis_conn, redis_prefix)
    wait_job(rq_runner.get, job.id, lambda j: (j.progress.completed or 0) >= 50)
    seen = list(rq_runner.bus.events(job.id, None, timeout=0))
    stream = progress_stream(
        rq_runner, rq_runner.bus, job.id, seen[-1].id, heartbeat=0.5
    )
    state = parse([next(stream)])[0].json()
    assert state["state"] == "running"
    assert state["job"]["progress"]["completed"] >= 50
    live = parse([next(stream)])[0]
    assert live.event == "progress"
    assert live.id is not None
    assert stream_order(live.id) > stream_order(seen[-1].id)
    rq_runner.cancel(job.id)
    rest = [e for e in parse(stream) if not e.comment]
    assert rest[-1].event == "error"
    assert rest[-1].json()["state"] == "cancelled"
    threads[0].join(5)
    assert not threads[0].is_alive()
