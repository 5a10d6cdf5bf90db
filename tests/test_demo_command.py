"""``ollama-webmgr demo``: emulated nodes + application + gateway, addresses printed."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
from bs4 import BeautifulSoup

from ollama_webmgr.demo import NODE_MODELS, start_demo_fleet


def _read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "OLLAMA_HOST=" in line:
            return "".join(lines)
    raise AssertionError("demo ended early:\n" + "".join(lines))


def test_demo_prints_addresses_that_answer(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "ollama_webmgr",
        "demo",
        "--port",
        "0",
        "--gateway-port",
        "0",
        "--base-port",
        "0",
        "--data-dir",
        str(tmp_path / "demo"),
    ]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = _read_banner(process)
        web = re.search(r"Application : (\S+)", banner)
        gateway = re.search(r"Passerelle compatible Ollama : (\S+)", banner)
        nodes = re.findall(r"nœud \d : (\S+)", banner)
        assert web, banner
        assert gateway, banner
        page = httpx.get(web.group(1), timeout=10)
        tags = httpx.get(gateway.group(1) + "/api/tags", timeout=10).json()
        node_answers = [httpx.get(url, timeout=10).text for url in nodes]
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert page.status_code == 200
    assert BeautifulSoup(page.text, "html.parser").html["lang"] == "fr"
    union = {name for models in NODE_MODELS for name in models}
    assert {m["name"] for m in tags["models"]} == union
    assert node_answers == ["Ollama is running"] * 3
    assert f"OLLAMA_HOST={gateway.group(1)} ollama list" in banner
    assert "Mise à jour disponible publiée pour : llama3.2:latest" in banner
    assert (tmp_path / "demo" / "webmgr.sqlite3").is_file()
    assert process.returncode == 0


def test_demo_nodes_move_to_free_ports_when_theirs_are_busy() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        base = busy.getsockname()[1]
        fleet = start_demo_fleet("127.0.0.1", base)
        try:
            ports = [int(url.rsplit(":", 1)[1]) for url in fleet.urls]
            assert base not in ports
            assert httpx.get(fleet.urls[0]).text == "Ollama is running"
        finally:
            fleet.stop()
