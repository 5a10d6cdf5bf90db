"""gunicorn with ``deploy/gunicorn.conf.py`` serving ``ollama_webmgr.wsgi``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fleet_support import SMALL_MODELS
from ollama_webmgr.deployment import concurrency_problem, workers_from_env
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.store.database import open_database
from ollama_webmgr.store.stats import get_stats_snapshot

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gunicorn_command(target: str, *options: str) -> list[str]:
    return [str(GUNICORN), "-c", str(CONFIG), *options, target]


def gunicorn_env(tmp_path: Path, **values: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "SECRET_KEY": "gunicorn-test",
        "WEBMGR_DATA_DIR": str(tmp_path / "data"),
        **values,
    }


@contextmanager
def running_gunicorn(
    tmp_path: Path, target: str, env: dict[str, str]
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """gunicorn on a free loopback port; yields its URL once it answers."""
    port = free_port()
    process = subprocess.Popen(
        gunicorn_command(target, "--bind", f"127.0.0.1:{port}"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[1]) from None
                time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def test_two_workers_without_redis_refuse_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        gunicorn_command("ollama_webmgr.wsgi:app", "--bind", "127.0.0.1:0"),
        cwd=tmp_path,
        env=gunicorn_env(tmp_path, WEB_CONCURRENCY="2"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    refusal = [line for line in result.stderr.splitlines() if "REDIS_URL" in line]
    assert refusal == [
        "ollama-webmgr: " + str(concurrency_problem(2, None)),
    ]


def test_workers_flag_counts_too(tmp_path: Path) -> None:
    result = subprocess.run(
        gunicorn_command("ollama_webmgr.wsgi:gateway", "--workers", "3"),
        cwd=tmp_path,
        env=gunicorn_env(tmp_path, WEB_CONCURRENCY="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "REDIS_URL is required with more than one worker (3 configured)" in (
        result.stderr
    )


@pytest.mark.slow
def test_web_app_and_gateway_under_gunicorn_run_their_background(
    tmp_path: Path,
) -> None:
    with running_fleet([SMALL_MODELS]) as fleet:
        env = gunicorn_env(tmp_path, WEB_CONCURRENCY="1", OLLAMA_BASE_URL=fleet.urls[0])
        with running_gunicorn(tmp_path, "ollama_webmgr.wsgi:app", env) as (web, _):
            page = httpx.get(web + "/", timeout=10)
            with running_gunicorn(tmp_path, "ollama_webmgr.wsgi:gateway", env) as (
                gateway,
                _,
            ):
                tags = httpx.get(gateway + "/api/tags", timeout=10)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert sorted(m["name"] for m in tags.json()["models"]) == sorted(SMALL_MODELS)
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'webmgr.sqlite3'}")
    try:
        # reconciliation ran at start (post_worker_init) ...
        assert {d["address"] for d in db.find("servers")} == {
            display_address(u) for u in fleet.urls
        }
        # ... and the gateway's request records were flushed at exit (worker_exit)
        assert get_stats_snapshot(db)["other_requests"] == 1
    finally:
        db.close()


def test_workers_from_env_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="WEB_CONCURRENCY"):
        workers_from_env({"WEB_CONCURRENCY": "zero"})
    with pytest.raises(ValueError, match="WEB_CONCURRENCY"):
        workers_from_env({"WEB_CONCURRENCY": "0"})
    assert workers_from_env({"WEB_CONCURRENCY": " 3 "}) == 3
