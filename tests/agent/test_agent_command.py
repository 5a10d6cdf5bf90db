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
