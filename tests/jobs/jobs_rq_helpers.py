"""Running real RQ workers from the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil

from ollama_webmgr.jobs.model import Job
from rq_workers import ThreadWorker, burst_workers, run_burst

__all__ = ["ThreadWorker", "burst_workers", "run_burst"]


ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def worker_process(queue: str, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m ollama_webmgr worker`` (the real, forking RQ worker)."""
    env = {
        **os.environ,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "PYTHONPATH": os.pathsep.join(
            [str(ROOT / "tests" / "jobs"), str(ROOT / "src")]
        ),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "ollama_webmgr", "worker", "--queue", queue],
        env=env,
        cwd=cwd,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield worker
    finally:
        kill_with_horses(worker)


def kill_with_horses(worker: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its work horses (RQ puts them in their own session)."""
    if worker.poll() is not None:
        return
    horses = psutil.Process(worker.pid).children(recursive=True)
    worker.kill()
    for horse in horses:
        with suppress(psutil.NoSuchProcess):
            horse.kill()
    worker.wait(5)


def wait_job(
    get: Callable[[str], Job],
    job_id: str,
    done: Callable[[Job], bool],
    limit: float = 10.0,
) -> Job:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        job = get(job_id)
        if done(job):
            return job
        time.sleep(0.02)
    raise AssertionError(f"job stuck as {get(job_id)}")
