"""The product as several processes on loopback, sharing the real PostgreSQL
(a fresh database) and the real Redis (a fresh ``REDIS_PREFIX``):

- the web app with 2 workers (``ollama-webmgr serve --no-gateway --workers 2``,
  as the systemd unit runs it);
- 2 gateways: ``ollama-webmgr gateway --workers 2`` and ``ollama-webmgr gateway``
  (one worker), each a supervisor storing its workers' request records;
- 2 RQ workers (``ollama-webmgr worker``);
- 3 emulated Ollama nodes and the fake ollama.com, in this process on real
  sockets, pulling at 80 MB/s so a pull lasts seconds.

The tests run in file order on one set of processes (the last one kills an RQ
worker). Which web worker serves a request is told by ``/health``'s ``pid``;
a kept-alive connection stays on its worker.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from scaleout_support import (
    InFlight,
    Process,
    Processes,
    child_env,
    request,
    sse_events,
    wait_for,
    worker_connection,
)

from ollama_webmgr.jobs.records import stored_jobs
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.catalog import DEFAULT_SCALE, Registry
from ollama_webmgr.sim.library import create_library_app
from ollama_webmgr.sim.serve import RunningServer, start_in_thread
from ollama_webmgr.sim.state import SimState
from ollama_webmgr.store.database import open_database
from redis_fixtures import clean_redis

pytestmark = [
    pytest.mark.slow,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.timeout(300),
]
redis = pytest.importorskip("redis")
rq = pytest.importorskip("rq")

PG_ADMIN = os.environ.get(
    "WEBMGR_TEST_POSTGRES_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = "redis://127.0.0.1:6379/0"
INSTALLED = "smollm2:135m"
BANDWIDTH = 80e6 * DEFAULT_SCALE  # qwen2.5:0.5b in ~5 s (sizes and rate scaled)
BIN = Path(sys.executable).parent


@dataclass
class Stack:
    web: int  # port of the web app (2 workers)
    gateways: list[int]
    nodes: list[InFlight]
    states: list[SimState]
    urls: list[str]
    workers: list[Process]
    redis: Any
    queue: str
    database: str

    def job(self, job_id: str) -> dict[str, Any]:
        status, body = request(self.web, "GET", f"/api/jobs/{job_id}")
        assert status == 200, body
        job: dict[str, Any] = body["job"]
        return job

    def finished(self, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        job: dict[str, Any] = wait_for(
            lambda: (j := self.job(job_id))["state"] not in ("queued", "running") and j,
            timeout,
            f"job {job_id} to finish",
        )
        return job

    def rq_worker_pid(self, job_id: str) -> int:
        """The pid of the RQ worker that took job ``job_id``."""
        rq_job = rq.job.Job.fetch(job_id, connection=self.redis)
        queue = rq.Queue(self.queue, connection=self.redis)
        by_name = {w.name: w.pid for w in rq.Worker.all(queue=queue)}
        return int(by_name[rq_job.worker_name])


def _unavailable(service: str, exc: Exception) -> None:
    pytest.skip(f"no {service} on loopback ({exc})")


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"webmgr_scale_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE template0")
    except sa.exc.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(scope="module")
def stack(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError as exc:
        _unavailable("Redis", exc)
    prefix = f"test-scale-{uuid.uuid4().hex[:10]}"
    queue = f"ollama-{prefix}"
    registry = Registry()
    states = [
        SimState.with_models(
            [INSTALLED], registry, bandwidth=BANDWIDTH, token_delay=0.05
        )
        for _ in range(3)
    ]
    nodes = [InFlight(create_app(state)) for state in states]
    servers: list[RunningServer] = [start_in_thread(node) for node in nodes]
    servers.append(start_in_thread(create_library_app(registry)))
    urls = [server.url for server in servers[:3]]
    data = tmp_path_factory.mktemp("scaleout")
    env = child_env() | {
        "REDIS_URL": REDIS_URL,
        "REDIS_PREFIX": prefix,
        "DATABASE_URL": database,
        "WEBMGR_DATA_DIR": str(data / "data"),
        "SECRET_KEY": "scale-out-test",
        "OLLAMA_BASE_URL": urls[0],
        "OLLAMA_SERVERS": ",".join(urls[1:]),
        "OLLAMA_LIBRARY_URL": servers[3].url,
        "OLLAMA_REGISTRY_URL": servers[3].url,
        "LOG_LEVEL": "WARNING",
    }
    procs = Processes(env, data)
    gateway_at = r"gateway on http://127\.0\.0\.1:(\d+)"
    try:
        web = procs.start(
            "web",
            [str(BIN / "ollama-webmgr"), "serve", "--no-gateway", "--port", "0"],
            WEB_CONCURRENCY="2",
        )
        workers = [
            procs.start(f"worker{n}", [str(BIN / "ollama-webmgr"), "worker"])
            for n in range(2)
        ]
        web_port = web.port(r"ollama-webmgr: http://127\.0\.0\.1:(\d+)/")
        wait_for(
            lambda: request(web_port, "GET", "/health")[0] == 200, 60, "the web app"
        )
        # every gateway process reads this from the store when it starts
        status, body = request(
            web_port,
            "PUT",
            "/api/gateway/config",
            {"default_limit": 1, "queue_size": 64, "queue_timeout": 60.0},
        )
        assert status == 200, body
        gateways = [
            procs.start(
                "gateway0",
                [str(BIN / "ollama-webmgr"), "gateway", "--port", "0"],
                WEB_CONCURRENCY="2",
            ).port(gateway_at),
            procs.start(
                "gateway1",
                [str(BIN / "ollama-webmgr"), "gateway", "--port", "0"],
            ).port(gateway_at),
        ]
        rq_queue = rq.Queue(queue, connection=connection)
        wait_for(lambda: len(rq.Worker.all(queue=rq_queue)) == 2, 60, "two RQ workers")
        yield Stack(
            web_port,
            gateways,
            nodes,
            states,
            urls,
            workers,
            connection,
            queue,
            database,
        )
    finally:
        procs.stop_all()
        for server in servers:
            server.stop()
        clean_redis(connection, prefix, queue)
        connection.close()


def server_name(url: str) -> str:
    return url.removeprefix("http://")


def test_a_pull_started_on_one_web_worker_is_followed_on_the_other(
    stack: Stack,
) -> None:
    starter, starter_pid = worker_connection(stack.web)
    follower, follower_pid = worker_connection(stack.web, avoid=starter_pid)
    assert follower_pid != starter_pid
    try:
        status, body = request(
            stack.web,
            "POST",
            "/api/models/pull",
            {"name": "qwen2.5:0.5b", "servers": [server_name(stack.urls[0])]},
            conn=starter,
        )
        assert status == 202, body
        job_id = body["job_id"]
        events = list(sse_events(follower, job_id))
    finally:
        starter.close()
        follower.close()
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "status"
    assert kinds[-1] == "done", events[-3:]
    layers = [data for kind, data in events if kind == "progress" and data.get("total")]
    weights = max(data["total"] for data in layers)
    completed = [d.get("completed") or 0 for d in layers if d["total"] == weights]
    # event by event while the download ran, not one burst at the end
    assert len(completed) >= 5
    assert completed == sorted(completed)
    # the final record follows the terminal event (execution.py)
    assert stack.finished(job_id, timeout=10)["state"] == "done"
    # the job ran on an RQ worker, not in a web process
    worker_pids = {p for w in stack.workers for p in w.pids()}
    assert stack.rq_worker_pid(job_id) in worker_pids
    # each web worker lists the new model (the list cache is shared)
    for other in (follower_pid, starter_pid):
        conn, pid = worker_connection(stack.web, avoid=other)
        try:
            names = _models_on(stack, server_name(stack.urls[0]), conn)
        finally:
            conn.close()
        assert "qwen2.5:0.5b" in names, (pid, names)


def _models_on(
    stack: Stack, server: str, conn: http.client.HTTPConnection
) -> list[str]:
    path = f"/api/models?server={server}"
    status, body = request(stack.web, "GET", path, conn=conn)
    assert status == 200, body
    return [m["name"] for m in body["models"]]


def test_a_forced_eject_runs_on_an_rq_worker(stack: Stack) -> None:
    url = stack.urls[1]
    with OllamaClient(url) as client:
        client.load(INSTALLED, keep_alive="10m")
        assert [m.name for m in client.ps()] == [INSTALLED]
    status, body = request(
        stack.web,
        "POST",
        "/api/eject/force",
        {"name": INSTALLED, "server": server_name(url)},
    )
    assert status == 202, body
    job = stack.finished(body["job_id"])
    assert job["state"] == "done", job
    assert job["result"]["attempts"] >= 1
    worker_pids = {p for w in stack.workers for p in w.pids()}
    assert stack.rq_worker_pid(body["job_id"]) in worker_pids
    with OllamaClient(url) as client:
        assert client.ps() == []


def test_the_per_server_limit_holds_across_both_gateways(stack: Stack) -> None:
    for node in stack.nodes:
        node.peak = 0
    results: list[int] = []
    lock = threading.Lock()

    def generate(port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        body = {
            "model": INSTALLED,
            "prompt": "hi",
            "stream": True,
            "options": {"num_predict": 20},  # 20 tokens: about 1 s
        }
        try:
            conn.request("POST", "/api/generate", body=json.dumps(body))
            response = conn.getresponse()
            lines = response.read().splitlines()
        finally:
            conn.close()
        ok = response.status == 200 and json.loads(lines[-1]).get("done") is True
        with lock:
            results.append(200 if ok else response.status)

    threads = [
        threading.Thread(target=generate, args=(stack.gateways[n % 2],))
        for n in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(150)
    assert results == [200] * 12
    # 12 requests at once over 2 gateways, limit 1 per server: each node saw
    # at most one at a time (each gateway alone would have allowed 2)
    assert [node.peak for node in stack.nodes] == [1, 1, 1]
    assert sum(node.served for node in stack.nodes) >= 12


def _generate_on(port: int) -> str:
    """One short generation through a gateway; the node that answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = {"model": INSTALLED, "prompt": "hi", "stream": False}
    body["options"] = {"num_predict": 1}
    try:
        conn.request("POST", "/api/generate", body=json.dumps(body))
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 200
    return str(response.getheader("X-Ollama-Server"))


def test_a_drain_through_one_web_worker_reaches_every_process(stack: Stack) -> None:
    drained = server_name(stack.urls[0])
    conn, pid = worker_connection(stack.web)
    try:
        status, body = request(
            stack.web,
            "POST",
            "/api/gateway/drain",
            {"server": drained, "draining": True},
            conn=conn,
        )
    finally:
        conn.close()
    assert status == 200, body
    try:
        # the other web worker shows it (config sync: every 5 s)
        def other_sees_it() -> bool:
            other, _ = worker_connection(stack.web, avoid=pid)
            try:
                _, status = request(stack.web, "GET", "/api/gateway/status", conn=other)
            finally:
                other.close()
            return any(
                s["name"] == drained and s["draining"] for s in status["servers"]
            )

        wait_for(other_sees_it, 20, "the other web worker to see the drain")
        # and both gateways stop sending it new requests
        for port in stack.gateways:
            wait_for(
                lambda port=port: all(_generate_on(port) != drained for _ in range(3)),
                20,
                f"gateway {port} to drain {drained}",
            )
        before = stack.nodes[0].served
        answered = {_generate_on(port) for port in stack.gateways for _ in range(4)}
        assert drained not in answered
        assert stack.nodes[0].served == before
    finally:
        status, body = request(
            stack.web,
            "POST",
            "/api/gateway/drain",
            {"server": drained, "draining": False},
        )
        assert status == 200, body


def test_killing_an_rq_worker_mid_pull_interrupts_the_job_and_retry_works(
    stack: Stack,
) -> None:
    server = server_name(stack.urls[2])
    status, body = request(
        stack.web,
        "POST",
        "/api/models/pull",
        {"name": "smollm2:360m", "servers": [server]},  # 725 MB: about 9 s
    )
    assert status == 202, body
    job_id = body["job_id"]
    wait_for(
        lambda: (
            (j := stack.job(job_id))["state"] == "running"
            and (j["progress"].get("completed") or 0) > 0
        ),
        30,
        "the pull to download",
    )
    pid = stack.rq_worker_pid(job_id)
    victim = next(w for w in stack.workers if pid in w.pids())
    survivor = next(w for w in stack.workers if w is not victim)
    killed_at = time.monotonic()
    victim.kill()  # SIGKILL to the worker and its work horse

    job = stack.finished(job_id, timeout=60)
    assert job["state"] == "interrupted", job
    assert job["error"] == "the worker running this job stopped"
    assert job["message"]  # the French sentence the page shows
    assert time.monotonic() - killed_at < 30  # the worker's alive key: 10 s
    # nothing lost: what was published stays, then the interruption
    conn, _ = worker_connection(stack.web)
    try:
        events = list(sse_events(conn, job_id))
    finally:
        conn.close()
    assert any(kind == "progress" for kind, _ in events)
    assert events[-1][0] == "error"
    assert events[-1][1]["state"] == "interrupted"

    status, body = request(stack.web, "POST", f"/api/jobs/{job_id}/retry", {})
    assert status == 202, body
    retried = stack.finished(body["job_id"], timeout=90)
    assert retried["state"] == "done", retried
    assert retried["retry_of"] == job_id
    assert stack.rq_worker_pid(body["job_id"]) in survivor.pids()
    conn, _ = worker_connection(stack.web)
    try:
        assert "smollm2:360m" in _models_on(stack, server, conn)
    finally:
        conn.close()
    # the store (PostgreSQL) keeps both records
    db = open_database(stack.database)
    try:
        states = {job.id: job.state for job in stored_jobs(db)}
    finally:
        db.close()
    assert states[job_id] == "interrupted"
    assert states[body["job_id"]] == "done"
