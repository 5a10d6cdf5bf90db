"""gunicorn with ``deploy/gunicorn.conf.py`` serving ``ollama_webmgr.wsgi``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from deploy_support import gunicorn_command, gunicorn_env, running_gunicorn

from fleet_support import SMALL_MODELS
from ollama_webmgr.deployment import concurrency_problem, workers_from_env
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.store.database import open_database
from ollama_webmgr.store.stats import get_stats_snapshot


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
    assert refusal == ["ollama-webmgr: " + str(concurrency_problem(2, None))]


def test_workers_flag_counts_too(tmp_path: Path) -> None:
    result = subprocess.run(
        gunicorn_command(
            "ollama_webmgr.wsgi:gateway", "--workers", "3", "--bind", "127.0.0.1:0"
        ),
        cwd=tmp_path,
        env=gunicorn_env(tmp_path),
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
        env = gunicorn_env(tmp_path, OLLAMA_BASE_URL=fleet.urls[0])
        with running_gunicorn(tmp_path, "ollama_webmgr.wsgi:app", env) as web:
            page = httpx.get(web + "/", timeout=10)
            with running_gunicorn(
                tmp_path, "ollama_webmgr.wsgi:gateway", env
            ) as gateway:
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
