"""``ollama-webmgr agent`` as a user starts it: gevent-patched CLI, real socket."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ollama_webmgr.agent.client import AgentClient
from ollama_webmgr.errors import AgentUnavailable


def _start(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ollama_webmgr", "agent", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # printed once the port is bound
    match = re.search(r":(\d+)$", line.strip())
    if not match:
        proc.kill()
        raise AssertionError(f"no port announced: {line!r} {proc.stderr.read()!r}")  # type: ignore[union-attr]
    return proc, int(match.group(1))


@pytest.fixture
def agent_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_TOKEN"}
    env["OLLAMA_MODELS"] = str(tmp_path)
    return env


def test_agent_command_serves_system_info_under_gevent(
    agent_env: dict[str, str],
) -> None:
    proc, port = _start(["--token", "tok"], agent_env)
    try:
        with AgentClient(f"127.0.0.1:{port}", token="tok", timeout=10) as client:
            assert client.check_health()
            info = client.get_system_info(details=False)
        assert info.disk.volumes[0].path == agent_env["OLLAMA_MODELS"]
        with (
            AgentClient(f"127.0.0.1:{port}", timeout=10) as anonymous,
            pytest.raises(AgentUnavailable, match="refused the token"),
        ):
            anonymous.get_system_info()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def test_agent_token_can_come_from_the_environment(agent_env: dict[str, str]) -> None:
    proc, port = _start([], {**agent_env, "AGENT_TOKEN": "from-env"})
    try:
        with AgentClient(f"127.0.0.1:{port}", token="from-env", timeout=10) as client:
            assert client.get_system_info(details=False).memory.total > 0
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def test_agent_serves_the_models_without_the_token_when_asked(
    agent_env: dict[str, str],
) -> None:
    import httpx

    manifest = Path(
        agent_env["OLLAMA_MODELS"], "manifests/registry.ollama.ai/library/m"
    )
    manifest.mkdir(parents=True)
    (manifest / "latest").write_bytes(b'{"config": {"digest": "x", "size": 1}}')
    proc, port = _start(["--token", "tok", "--serve-models", "0"], agent_env)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        match = re.search(r"^models served read-only on 127\.0\.0\.1:(\d+)$", line)
        assert match, line
        models_port = int(match.group(1))
        with AgentClient(f"127.0.0.1:{port}", token="tok", timeout=10) as client:
            info = client.get_system_info(details=False)
        assert info.system.models_port == models_port
        answer = httpx.get(
            f"http://127.0.0.1:{models_port}/v2/library/m/manifests/latest"
        )
        assert answer.status_code == 200  # Ollama pulls without our token
        assert answer.content == (manifest / "latest").read_bytes()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == 0


def test_agent_without_the_flag_serves_no_models(agent_env: dict[str, str]) -> None:
    proc, port = _start([], agent_env)
    try:
        with AgentClient(f"127.0.0.1:{port}", timeout=10) as client:
            assert client.get_system_info(details=False).system.models_port is None
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]


def test_a_busy_model_port_is_said_in_french(agent_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        command = ["agent", "--port", "0", "--serve-models", str(taken)]
        done = subprocess.run(
            [sys.executable, "-m", "ollama_webmgr", *command],
            capture_output=True,
            text=True,
            env=agent_env,
            timeout=60,
        )
    assert done.returncode == 1
    assert (
        f"impossible de servir les modèles sur 127.0.0.1:{taken}"
        " (port occupé ou hôte invalide)"
    ) in done.stderr
