"""``ollama-webmgr gateway --workers N``: a supervisor and its workers on one port,
as the shipped systemd unit and compose file run it (with Redis from 2 on)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from ollama_webmgr.cluster.saved_fleet import load_registry
from ollama_webmgr.gateway.config import GatewayConfig
from ollama_webmgr.runtime.deployment import concurrency_problem
from ollama_webmgr.runtime.schedule import CONFIG_SYNC_EVERY
from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.sim.state import SimState
from ollama_webmgr.store.database import Where, open_database
from ollama_webmgr.store.stats import get_stats_snapshot
from ollama_webmgr.usecases import gateway_settings
from process_env import clean_env
from waiting import wait_until

MODEL = "smollm2:135m"


def _env(tmp_path: Path, node: str, **values: str) -> dict[str, str]:
    return clean_env() | {
        "HOME": str(tmp_path),
        "OLLAMA_BASE_URL": node,
        "WEBMGR_DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
        **values,
    }


@contextmanager
def _node() -> Iterator[str]:
    with serve_in_thread(create_app(SimState.with_models([MODEL]))) as node:
        yield node.url


@contextmanager
def _gateway(
    tmp_path: Path, env: dict[str, str], workers: int
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    command = [sys.executable, "-m", "ollama_webmgr", "gateway", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--workers", str(workers)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as in a terminal
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("ollama-webmgr gateway on http://"), banner
        yield process, banner.rsplit(" ", 1)[1].strip()
    finally:
        for child in _workers(process):
            child.kill()
        process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def _workers(process: subprocess.Popen[str]) -> list[psutil.Process]:
    try:
        return psutil.Process(process.pid).children()
    except psutil.NoSuchProcess:
        return []


def _show(url: str) -> int:
    return httpx.post(url + "/api/show", json={"model": MODEL}, timeout=10).status_code


def _stored_requests(tmp_path: Path) -> int:
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'webmgr.sqlite3'}")
    try:
        return int(get_stats_snapshot(db)["other_requests"])
    finally:
        db.close()


def test_two_workers_without_redis_refuse_to_start(tmp_path: Path) -> None:
    env = _env(tmp_path, "http://127.0.0.1:9")
    result = subprocess.run(
        [sys.executable, "-m", "ollama_webmgr", "gateway", "--port", "0"],
        cwd=tmp_path,
        env={**env, "WEB_CONCURRENCY": "2"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2  # systemd: RestartPreventExitStatus=2
    problem = concurrency_problem(2, None)
    assert (
        result.stderr.strip() == f"ollama-webmgr : erreur de configuration : {problem}"
    )


def _stop_supervisor(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)  # systemd (KillMode=mixed), docker stop


def _ctrl_c(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGINT)  # the whole group, then the supervisor's
    # SIGTERM reaches workers already stopping


@pytest.mark.redis
@pytest.mark.parametrize("stop", [_stop_supervisor, _ctrl_c])
def test_every_request_is_recorded_by_the_supervisor(
    tmp_path: Path, redis_prefix: str, stop: Callable[[subprocess.Popen[str]], None]
) -> None:
    with _node() as node:
        env = _env(
            tmp_path,
            node,
            REDIS_URL="redis://127.0.0.1:6379/0",
            REDIS_PREFIX=redis_prefix,
        )
        with _gateway(tmp_path, env, workers=2) as (process, url):
            workers = _workers(process)
            assert len(workers) == 2
            # many connections, so both workers take some
            statuses = [_show(url) for _ in range(40)]
            stop(process)
            assert process.wait(60) == 0
        assert statuses == [200] * 40
        assert not any(w.is_running() for w in workers)
    # the workers wrote nothing: they piped their records to the supervisor
    assert _stored_requests(tmp_path) == 40


@pytest.mark.redis
def test_a_killed_worker_is_replaced_and_the_port_keeps_answering(
    tmp_path: Path, redis_prefix: str
) -> None:
    with _node() as node:
        env = _env(
            tmp_path,
            node,
            REDIS_URL="redis://127.0.0.1:6379/0",
            REDIS_PREFIX=redis_prefix,
        )
        with _gateway(tmp_path, env, workers=2) as (process, url):
            first = {w.pid for w in _workers(process)}
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            # the other worker answers meanwhile
            assert [_show(url) for _ in range(5)] == [200] * 5
            wait_until(
                lambda: {w.pid for w in _workers(process)} - first,
                timeout=60,
                what="a new worker",
            )
            pids = {w.pid for w in _workers(process)}
            assert len(pids) == 2
            assert victim not in pids
            assert [_show(url) for _ in range(5)] == [200] * 5


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    with _node() as node, _gateway(tmp_path, _env(tmp_path, node), 1) as (p, url):
        assert _show(url) == 200
        workers = _workers(p)
        p.kill()
        # a worker stops as on SIGTERM: its grace, then its health round
        # (up to 2 probe timeouts), longer on a loaded machine
        _gone, alive = psutil.wait_procs(workers, timeout=30)
        assert alive == []
    with socket.socket() as probe:
        port = int(url.rsplit(":", 1)[1])
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nobody listens


def test_systemd_hears_ready_once_the_workers_serve_then_stopping(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notify"
    with (
        _node() as node,
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd,
    ):
        systemd.bind(str(path))
        systemd.settimeout(60)
        env = _env(tmp_path, node, NOTIFY_SOCKET=str(path))
        with _gateway(tmp_path, env, workers=1) as (process, url):
            assert systemd.recv(100) == b"READY=1"
            assert _show(url) == 200
            process.send_signal(signal.SIGTERM)
            assert systemd.recv(100) == b"STOPPING=1"
            assert process.wait(60) == 0


def test_a_busy_port_is_explained_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "ollama_webmgr", "gateway", "--port", str(port)],
            cwd=tmp_path,
            env=_env(tmp_path, "http://127.0.0.1:9"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Erreur : impossible d’écouter sur 127.0.0.1:{port} : port déjà utilisé"
    )
    assert "Traceback" not in result.stderr


def test_a_tinydb_store_keeps_the_gateway_in_one_process(tmp_path: Path) -> None:
    store = f"tinydb:///{tmp_path / 'store.json'}"
    with _node() as node:
        env = _env(tmp_path, node, DATABASE_URL=store)
        with _gateway(tmp_path, env, workers=1) as (process, url):
            assert _show(url) == 200
            assert _workers(process) == []  # TinyDB opens once: no supervisor
        refused = subprocess.run(
            [sys.executable, "-m", "ollama_webmgr", "gateway", "--workers", "2"],
            cwd=tmp_path,
            env={**env, "REDIS_URL": "redis://127.0.0.1:6379/0"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert refused.returncode == 2
    assert "une base TinyDB ne s’ouvre que dans un processus" in refused.stderr


def _fresh_statuses(url: str, key: str | None = None, count: int = 10) -> set[int]:
    """Statuses over ``count`` new connections: each may land on either worker."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return {
        httpx.post(
            url + "/api/show", json={"model": MODEL}, headers=headers, timeout=10
        ).status_code
        for _ in range(count)
    }


@pytest.mark.redis
def test_keys_and_drains_saved_in_the_store_reach_every_worker(
    tmp_path: Path, redis_prefix: str
) -> None:
    """What the web app saves (here through the same use-case functions, on the
    shared store) reaches both workers within the sync interval, although
    neither opens the store: their supervisor pushes it."""
    with _node() as node:
        env = _env(
            tmp_path,
            node,
            REDIS_URL="redis://127.0.0.1:6379/0",
            REDIS_PREFIX=redis_prefix,
        )
        with _gateway(tmp_path, env, workers=2) as (_process, url):
            assert _fresh_statuses(url) == {200}
            db = open_database(f"sqlite:///{tmp_path / 'data' / 'webmgr.sqlite3'}")
            try:
                created = gateway_settings.create_api_key(db, GatewayConfig(), "test")
                started = time.monotonic()
                wait_until(
                    lambda: _fresh_statuses(url) == {401},
                    timeout=15,
                    what="every worker to ask for a key",
                )
                assert time.monotonic() - started < CONFIG_SYNC_EVERY + 5
                assert _fresh_statuses(url, created.key) == {200}
                registry = load_registry([node], db)
                registry.set_draining(registry.all()[0].name, True)
                gateway_settings.save_draining(db, registry)
                wait_until(
                    lambda: _fresh_statuses(url, created.key) == {503},
                    timeout=15,
                    what="every worker to drain the only server",
                )
                gateway_settings.delete_api_key(
                    db, GatewayConfig(), created.entry["id"]
                )
                registry.set_draining(registry.all()[0].name, False)
                gateway_settings.save_draining(db, registry)
                wait_until(
                    lambda: _fresh_statuses(url) == {200},
                    timeout=15,
                    what="every worker to take requests without a key again",
                )
            finally:
                db.close()
    # with Redis the history is the web processes': the gateway wrote none
    assert _history(tmp_path, node) == ({}, [])


def _history(tmp_path: Path, node: str) -> tuple[dict[str, object], list[str]]:
    """The node's stored health state, and the models the store maps to it."""
    address = node.removeprefix("http://")
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'webmgr.sqlite3'}")
    try:
        found = db.find("servers", [Where("address", "==", address)])
        models = [doc["name"] for doc in db.find("models") if address in doc["digests"]]
    finally:
        db.close()
    return (found[0] if found else {}), models


def test_alone_the_gateway_keeps_the_history_its_worker_probes(tmp_path: Path) -> None:
    """Without Redis the gateway holds the chores, as any process alone: its
    worker, which opens no store, reports each probe and the models it found,
    and the supervisor stores them."""
    with _node() as node, _gateway(tmp_path, _env(tmp_path, node), 1) as (_p, url):
        assert _show(url) == 200
        wait_until(
            lambda: _history(tmp_path, node)[0].get("healthy") is True,
            timeout=30,
            what="the worker's probe stored by the supervisor",
        )
        state, models = _history(tmp_path, node)
        assert isinstance(state["load"], float)  # the worker's requests in flight
        assert models == [MODEL]
