from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ollama_webmgr.commands import cli
from ollama_webmgr.runtime.serving import exposure_warning
from process_env import clean_env


def test_serve_help_lists_host_and_port() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output
    assert "--port" in result.output


def test_exposure_warning_names_the_address_and_the_fix() -> None:
    warning = exposure_warning("192.168.1.20", None)
    assert warning is not None
    assert "192.168.1.20" in warning
    assert "ADMIN_PASSWORD" in warning


@contextmanager
def serving(tmp_path: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The real ``ollama-webmgr serve`` (gevent, monkey-patched) on a free port."""
    env = clean_env(
        HOME=str(tmp_path),
        SECRET_KEY="serve-test",
        OLLAMA_SERVERS="http://gpu-a:11434",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ollama_webmgr",
            "serve",
            "--port",
            "0",
            "--gateway-port",
            "0",
            *args,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ollama-webmgr: http://"), line
        yield line.split(": ", 1)[1].strip(), process
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path) as (url, _process):
        yield url


def test_serve_answers_over_a_real_socket_with_keep_alive(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10) as http:
        health = http.get("/health")
        page = http.get("/")
        css = page.text.split('rel="stylesheet" href="', 1)[1].split('"', 1)[0]
        asset = http.get(css, headers={"Accept-Encoding": "br"})
    # The configured servers do not exist: degraded, but the app serves (200).
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["checks"]["store"]["ok"] is True
    assert health.json()["agents"] == {}
    assert "gpu-a:11434" in page.text
    assert asset.headers["Content-Encoding"] == "br"
    assert "immutable" in asset.headers["Cache-Control"]


def test_serve_warns_loudly_when_reachable_from_the_network(tmp_path: Path) -> None:
    with serving(tmp_path, "--host", "0.0.0.0") as (url, process):
        assert url.startswith("http://0.0.0.0:")
        process.terminate()
        _out, err = process.communicate(timeout=10)
    assert "ATTENTION : écoute sur 0.0.0.0 sans ADMIN_PASSWORD" in err


def test_serve_stays_quiet_on_loopback(tmp_path: Path) -> None:
    with serving(tmp_path) as (_url, process):
        process.terminate()
        _out, err = process.communicate(timeout=10)
    assert "WARNING" not in err
