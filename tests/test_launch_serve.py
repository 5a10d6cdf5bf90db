"""``ollama-webmgr serve``: web app and gateway in one gevent process."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from fleet_support import SMALL_MODELS
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.store.database import open_database
from ollama_webmgr.store.stats import get_stats_snapshot
from process_env import clean_env


def _start(tmp_path: Path, node: str, *args: str, **more: str) -> subprocess.Popen[str]:
    env = clean_env(
        HOME=str(tmp_path),
        SECRET_KEY="serve-test",
        OLLAMA_BASE_URL=node,
        WEBMGR_DATA_DIR=str(tmp_path / "data"),
        **more,
    )
    return subprocess.Popen(
        [sys.executable, "-m", "ollama_webmgr", "serve", "--port", "0", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_runs_web_app_and_gateway_and_stops_cleanly(tmp_path: Path) -> None:
    with running_fleet([SMALL_MODELS]) as fleet:
        process = _start(tmp_path, fleet.urls[0], "--gateway-port", "0")
        try:
            assert process.stdout is not None
            web = process.stdout.readline().split(": ", 1)[1].strip()
            gateway = process.stdout.readline().split(": ", 1)[1].strip()
            page = httpx.get(web, timeout=10)
            tags = httpx.get(gateway + "/api/tags", timeout=10)
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert page.status_code == 200
    assert sorted(m["name"] for m in tags.json()["models"]) == sorted(SMALL_MODELS)
    assert process.returncode == 0
    # the request records queued in memory were flushed at shutdown
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'webmgr.sqlite3'}")
    try:
        assert get_stats_snapshot(db)["other_requests"] == 1
        assert {d["address"] for d in db.find("servers")} == {
            display_address(u) for u in fleet.urls
        }
    finally:
        db.close()


def test_serve_without_gateway_runs_the_web_app_alone(tmp_path: Path) -> None:
    process = _start(tmp_path, "http://127.0.0.1:9", "--no-gateway")
    try:
        assert process.stdout is not None
        web = process.stdout.readline().split(": ", 1)[1].strip()
        # ``systemctl reload`` of a lone process: refused, not fatal
        process.send_signal(signal.SIGHUP)
        health = httpx.get(web + "health", timeout=10)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert health.status_code == 200
    assert "gateway" not in out
    assert process.returncode == 0
    assert "SIGHUP ignored" in err


def test_serve_explains_a_busy_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = _start(tmp_path, "http://127.0.0.1:9", "--gateway-port", str(port))
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"impossible d’écouter sur 127.0.0.1:{port} : port déjà utilisé" in err
    assert "Traceback" not in err


def test_serve_explains_a_bad_store_url_in_one_line(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL="mysql://db/x")
    result = subprocess.run(
        [sys.executable, "-m", "ollama_webmgr", "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Erreur : adresse de base non reconnue : « mysql://db/x »"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.redis
def test_serve_with_two_workers_serves_both_ports_and_records_every_request(
    tmp_path: Path, redis_prefix: str
) -> None:
    with running_fleet([SMALL_MODELS]) as fleet:
        process = _start(
            tmp_path,
            fleet.urls[0],
            "--gateway-port",
            "0",
            "--workers",
            "2",
            REDIS_URL="redis://127.0.0.1:6379/0",
            REDIS_PREFIX=redis_prefix,
        )
        try:
            assert process.stdout is not None
            web = process.stdout.readline().split(": ", 1)[1].strip()
            gateway = process.stdout.readline().split(": ", 1)[1].strip()
            workers = psutil.Process(process.pid).children()
            pages = [httpx.get(web, timeout=10).status_code for _ in range(5)]
            tags = [httpx.get(gateway + "/api/tags", timeout=10) for _ in range(6)]
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert len(workers) == 2
    assert pages == [200] * 5
    assert all(t.json()["models"] for t in tags)
    assert process.returncode == 0
    assert not any(w.is_running() for w in workers)
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'webmgr.sqlite3'}")
    try:  # the workers piped their gateway records to the supervisor
        assert get_stats_snapshot(db)["other_requests"] == 6
    finally:
        db.close()


def test_serve_on_a_port_of_its_choice_seeds_through_that_port(tmp_path: Path) -> None:
    """``--port`` (here 0: a free one) rather than ``WEBMGR_PORT``: the nodes
    are told to pull from the seed cache where the web app really answers."""
    with running_fleet([(), ()]) as fleet:
        process = _start(
            tmp_path,
            fleet.urls[0],
            "--gateway-port",
            "0",
            OLLAMA_SERVERS=",".join(fleet.urls),
            OLLAMA_REGISTRY_URL=fleet.library_url,
            WEBMGR_PORT="9",  # nothing answers there
        )
        try:
            assert process.stdout is not None
            process.stdout.readline()
            gateway = process.stdout.readline().split(": ", 1)[1].strip()
            fleet.registry.served.reset()
            pulled = httpx.post(
                f"{gateway}/api/pull",
                json={"model": "all-minilm", "stream": False},
                timeout=60,
            )
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
    entry = fleet.registry.lookup("all-minilm")
    assert entry is not None
    assert pulled.json() == {"status": "success"}
    assert fleet.registry.served.total == entry.size  # once for the two nodes
