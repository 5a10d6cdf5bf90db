"""RQRunner with real RQ workers on the real Redis server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from rq_helpers import burst_workers, wait_job
from sse_parsing import parse

from ollama_webmgr.errors import JobError, JobNotFound
from ollama_webmgr.jobs.model import Job
from ollama_webmgr.jobs.rq_runner import RQRunner
from ollama_webmgr.web.sse import progress_stream

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


def finished(job: Job) -> bool:
    return job.finished


def test_a_job_runs_on_a_worker_and_its_events_are_on_the_stream(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    job = rq_runner.submit("count", {"steps": 3})
    assert rq_runner.get(job.id).state == "queued"
    for thread in burst_workers(redis_conn, redis_prefix):
        thread.join(10)
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
    for thread in burst_workers(redis_conn, redis_prefix):
        thread.join(10)
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
    for thread in burst_workers(redis_conn, redis_prefix):
        thread.join(10)
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
    last = list(rq_runner.bus.events(job.id, None, timeout=0))[-1]
    assert (last.type, last.data["state"]) == ("error", "cancelled")


def test_cancel_of_a_queued_job_means_no_worker_runs_it(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    job = rq_runner.submit("count", {"steps": 1})
    assert rq_runner.cancel(job.id).state == "cancelled"
    for thread in burst_workers(redis_conn, redis_prefix):
        thread.join(10)
    assert rq_runner.get(job.id).started_at is None
    retried = rq_runner.retry(job.id)
    for thread in burst_workers(redis_conn, redis_prefix):
        thread.join(10)
    assert rq_runner.get(retried.id).state == "done"


def test_the_same_dedupe_key_joins_the_active_job_until_it_ends(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    first = rq_runner.submit("count", {"steps": 1}, dedupe_key="pull:a:qwen")
    assert rq_runner.submit("count", {"steps": 1}, dedupe_key="pull:a:qwen") == first
    other = rq_runner.submit("count", {"steps": 1}, dedupe_key="pull:b:qwen")
    assert other.id != first.id
    assert {j.id for j in rq_runner.list()} == {first.id, other.id}
    for thread in burst_workers(redis_conn, redis_prefix):
        thread.join(10)
    assert rq_runner.get(first.id).state == "done"
    again = rq_runner.submit("count", {"steps": 1}, dedupe_key="pull:a:qwen")
    assert again.id != first.id


def test_several_jobs_run_at_once_on_several_workers(
    rq_runner: RQRunner, redis_conn: Any, redis_prefix: str
) -> None:
    jobs = [rq_runner.submit("count", {"steps": 4, "delay": 0.1}) for _ in range(3)]
    for thread in burst_workers(redis_conn, redis_prefix, count=3):
        thread.join(10)
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
    env = {
        **os.environ,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "tests" / "jobs"), str(ROOT / "src")]
        ),
    }
    job = rq_runner.submit("stall_once", {"marker": str(tmp_path / "marker")})
    worker = subprocess.Popen(
        [sys.executable, "-m", "ollama_webmgr", "worker", "--queue", redis_prefix],
        env=env,
        cwd=tmp_path,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        running = wait_job(
            rq_runner.get, job.id, lambda j: (j.progress.completed or 0) > 2, limit=15
        )
        assert running.state == "running"
    finally:
        # RQ's work horse runs in its own session: kill it with its worker, as
        # when the machine or container dies.
        horses = psutil.Process(worker.pid).children(recursive=True)
        os.kill(worker.pid, signal.SIGKILL)
        for horse in horses:
            horse.kill()
        worker.wait(5)
    published = list(rq_runner.bus.events(job.id, None, timeout=0))
    interrupted = wait_job(rq_runner.get, job.id, finished, limit=5)
    assert interrupted.state == "interrupted"
    # Nothing lost: what was published is still there, followed by the error.
    after = list(rq_runner.bus.events(job.id, None, timeout=0))
    assert [e.id for e in after[: len(published)]] == [e.id for e in published]
    assert (after[-1].type, after[-1].data["state"]) == ("error", "interrupted")
    retried = rq_runner.retry(job.id)
    for thread in burst_workers(redis_conn, redis_prefix):
        thread.join(10)
    assert rq_runner.get(retried.id).result == "second run"
