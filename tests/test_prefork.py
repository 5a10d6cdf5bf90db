"""The supervisor of ``--workers N`` (``prefork.Supervisor``) with real worker
processes (``prefork_fake_worker.py``: the real pipe, no HTTP server).

The supervisor runs in a greenlet of this process; the test drives it with real
signals once its handlers are installed (after ``announce``).
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import pytest

from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.runtime.prefork import Supervisor, sd_notify

FAKE = Path(__file__).with_name("prefork_fake_worker.py")
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Run:
    supervisor: Supervisor
    greenlet: gevent.Greenlet
    paths: list[str] = field(default_factory=list)
    announced: int = 0

    def pids(self, prefix: str) -> set[int]:
        return {int(p.rsplit("/", 1)[1]) for p in self.paths if p.startswith(prefix)}

    def stop(self) -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        code: int = self.greenlet.get(timeout=60)
        return code


def wait_until(condition: Callable[[], object], limit: float = 60.0) -> None:
    with gevent.Timeout(limit, AssertionError("condition not met in time")):
        while not condition():
            gevent.sleep(0.02)


@pytest.fixture
def start(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Run]]:
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "src"))
    runs: list[Run] = []

    def start(mode: str, count: int, finishing: Sequence[float] = ()) -> Run:
        """``finishing``: how long each worker, in start order, takes to stop."""
        spawned = itertools.count()

        def command(channel: int) -> list[str]:
            seconds = finishing[next(spawned)] if finishing else 0.3
            return [sys.executable, str(FAKE), mode, str(channel), str(seconds)]

        run: Run | None = None

        def on_records(records: list[RequestRecord]) -> None:
            assert run is not None
            run.paths += [r.path for r in records]

        def announce() -> None:
            assert run is not None
            run.announced += 1

        supervisor = Supervisor([], count, command, on_records)
        run = Run(supervisor, gevent.spawn(supervisor.run, announce))
        runs.append(run)
        return run

    yield start
    for run in runs:  # a failed test must not leave workers behind
        if not run.greenlet.dead:
            run.stop()


def test_workers_start_serve_and_stop_with_their_last_records(
    start: Callable[..., Run],
) -> None:
    # the second still finishes when the first is gone: it must not get a
    # second SIGTERM, which would end it before its last records
    run = start("serve", 2, finishing=[0.2, 1.0])
    wait_until(lambda: run.announced)
    hello = run.pids("/hello/")
    assert len(hello) == 2  # each worker's records came through its pipe
    assert run.stop() == 0
    assert run.pids("/bye/") == hello  # stopped by SIGTERM, last records stored
    assert run.announced == 1
    for pid in hello:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_worker_that_dies_is_replaced(start: Callable[..., Run]) -> None:
    run = start("serve", 2)
    wait_until(lambda: run.announced)
    first = run.pids("/hello/")
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(run.pids("/hello/")) == 3)
    assert run.stop() == 0
    assert run.pids("/bye/") == run.pids("/hello/") - {victim}


def test_sighup_replaces_every_worker_each_after_its_successor_serves(
    start: Callable[..., Run],
) -> None:
    run = start("serve", 2)
    wait_until(lambda: run.announced)
    old = run.pids("/hello/")
    os.kill(os.getpid(), signal.SIGHUP)
    wait_until(lambda: run.pids("/bye/") == old)  # the old ones stopped gently
    new = run.pids("/hello/") - old
    assert len(new) == 2
    # one at a time: a new worker serves, then an old one stops
    after = run.paths[2:]
    assert [p.split("/")[1] for p in after] == ["hello", "bye", "hello", "bye"]
    assert run.stop() == 0
    assert run.pids("/bye/") == old | new


def test_workers_failing_at_start_stop_everything_with_their_status(
    start: Callable[..., Run],
) -> None:
    run = start("fail", 2)
    assert run.greenlet.get(timeout=60) == 3
    assert run.announced == 0


def test_sd_notify_sends_the_state_to_systemds_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        sd_notify("READY=1")
        assert systemd.recv(100) == b"READY=1"
    monkeypatch.delenv("NOTIFY_SOCKET")
    sd_notify("READY=1")  # outside systemd: nothing, no error
