"""``ollama-webmgr gateway`` serves the fleet under gevent, as users run it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import ollama
import openai
import pytest

from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.sim.state import SimState


def test_gateway_command_serves_the_configured_servers(tmp_path: Path) -> None:
    state = SimState.with_models(["llama3.2:latest"], token_delay=0.05)
    with serve_in_thread(create_app(state)) as node:
        env = {
            **os.environ,
            "OLLAMA_BASE_URL": node.url,
            "OLLAMA_SERVERS": "",
            "WEBMGR_DATA_DIR": str(tmp_path / "data"),
            "DATABASE_URL": "",
        }
        command = [sys.executable, "-m", "ollama_webmgr", "gateway", "--port", "0"]
        with subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
        ) as process:
            try:
                _check(process, node.url)
            finally:
                process.terminate()
                process.wait(timeout=10)


def _check(process: subprocess.Popen[str], node: str) -> None:
    assert process.stdout is not None
    banner = process.stdout.readline()
    url = banner.rsplit(" ", 1)[-1].strip()
    assert url.startswith("http://127.0.0.1:"), banner
    assert httpx.get(url + "/").text == "Ollama is running"
    for path in ("/", "/api/tags", "/api/version"):
        head = httpx.head(url + path)
        assert (head.status_code, head.content) == (200, b"")
        assert int(head.headers["content-length"]) > 0
    with ollama.Client(host=url) as client:
        assert [m.model for m in client.list().models] == ["llama3.2:latest"]
        started = time.monotonic()
        arrivals = [
            (time.monotonic() - started, part)
            for part in client.generate("llama3.2", "hi", stream=True)
        ]
    assert arrivals[-1][1].done
    # under gevent too, each line leaves as soon as it comes
    assert arrivals[-1][0] - arrivals[0][0] >= 0.2
    _check_clients(url, node)


def _check_clients(url: str, node: str) -> None:
    """The OpenAI client streams through it; errors come back as the node's."""
    messages = [{"role": "user", "content": "hi"}]
    with openai.OpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
        chunks = list(
            client.chat.completions.create(
                model="llama3.2", messages=messages, stream=True
            )
        )
    assert len(chunks) > 2
    assert chunks[-1].choices[0].finish_reason == "stop"
    errors = []
    for host in (url, node):
        with (
            ollama.Client(host=host) as client,
            pytest.raises(ollama.ResponseError) as caught,
        ):
            client.show("absent-model")
        errors.append((caught.value.status_code, caught.value.error))
    assert errors[0] == errors[1]
    assert errors[0][0] == 404
