"""``ollama-webmgr demo``: emulated nodes + application + gateway, addresses printed."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from bs4 import BeautifulSoup

from ollama_webmgr.runtime.demo import NODE_MODELS, start_demo_fleet
from process_env import clean_env
from waiting import wait_until


def _free_base_port() -> int:
    """A first node port whose +1, +2 and +9 (the fake ollama.com) are free too:
    the nodes keep their addresses from one start to the next, as with the
    default ports."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + 9 < 65536 and all(_is_free(base + offset) for offset in (0, 1, 2, 9)):
            return base
    raise AssertionError("no free ports for the demo's nodes")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start_demo(tmp_path: Path, base_port: int = 0) -> subprocess.Popen[str]:
    """``ollama-webmgr demo`` as a person starts it (free web and gateway ports)."""
    command = [
        sys.executable, "-m", "ollama_webmgr", "demo", "--port", "0",
        "--gateway-port", "0", "--base-port", str(base_port),
        "--data-dir", str(tmp_path / "demo"),
    ]  # fmt: skip
    env = clean_env(HOME=str(tmp_path))
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> float:
    """SIGTERM, as Ctrl+C or systemd does; the seconds until the process ended."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return time.monotonic() - started


def _job(web: str, job_id: str) -> dict[str, object]:
    job: dict[str, object] = httpx.get(f"{web}api/jobs/{job_id}", timeout=10).json()[
        "job"
    ]
    return job


def _pull(web: str, model: str, server: str) -> str:
    answer = httpx.post(
        f"{web}api/models/pull", json={"name": model, "server": server}, timeout=10
    )
    assert answer.status_code in (200, 202), answer.text
    job_id: str = answer.json()["job_id"]
    return job_id


def _read_banner(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if "OLLAMA_HOST=" in line:
            return "".join(lines)
    raise AssertionError("demo ended early:\n" + "".join(lines))


def test_demo_prints_addresses_that_answer(tmp_path: Path) -> None:
    process = _start_demo(tmp_path)
    try:
        banner = _read_banner(process)
        web = re.search(r"Application : (\S+)", banner)
        gateway = re.search(r"Passerelle compatible Ollama : (\S+)", banner)
        nodes = re.findall(r"noeud-\d : (\S+)", banner)
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


def test_demo_stops_at_once_mid_pull_and_keeps_its_nodes_state(tmp_path: Path) -> None:
    """Ctrl+C during a long pull: the demo ends within 5 s; at the next start the
    nodes have the names of the banner, the models pulled before are still
    there, and the pull shows interrupted and resumes when retried."""
    base_port = _free_base_port()
    process = _start_demo(tmp_path, base_port)
    try:
        banner = _read_banner(process)
        web = re.search(r"Application : (\S+)", banner).group(1)  # type: ignore[union-attr]
        small = _pull(web, "all-minilm:latest", "noeud-1")
        wait_until(lambda: _job(web, small)["state"] == "done", 30, "the small pull")
        big = _pull(web, "qwen2.5:7b", "noeud-1")  # about a minute at demo speed
        wait_until(
            lambda: ((_job(web, big).get("progress") or {}).get("completed") or 0) > 0,
            30,
            "the big pull to be under way",
        )
    except BaseException:
        process.kill()
        process.communicate()
        raise
    assert _stop(process) < 5
    assert process.returncode == 0

    again = _start_demo(tmp_path, base_port)
    try:
        banner = _read_banner(again)
        web = re.search(r"Application : (\S+)", banner).group(1)  # type: ignore[union-attr]
        node_1 = re.search(r"noeud-1 : (\S+)", banner).group(1)  # type: ignore[union-attr]
        servers = httpx.get(f"{web}api/servers?status=0", timeout=10).json()["servers"]
        tags = httpx.get(f"{node_1}/api/tags", timeout=10).json()["models"]
        interrupted = _job(web, big)
        retried = httpx.post(f"{web}api/jobs/{big}/retry", json={}, timeout=10)
        new_id = retried.json()["job_id"]
        wait_until(
            lambda: _job(web, new_id)["state"] in ("running", "done"),
            30,
            "the retried pull",
        )
    finally:
        _stop(again)
    assert [s["name"] for s in servers] == ["noeud-1", "noeud-2", "noeud-3"]
    assert "all-minilm:latest" in {m["name"] for m in tags}
    assert interrupted["state"] == "interrupted"
    assert retried.status_code in (200, 202)
