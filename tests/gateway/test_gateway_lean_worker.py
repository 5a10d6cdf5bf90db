"""A gateway worker as its supervisor sees it: the test holds the other end of
its pipe (``worker_link``), sends it its configuration, and reads what the
interpreter imported (``-X importtime``): no store, no SQLAlchemy."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.gateway.auth import hash_api_key
from ollama_webmgr.gateway.snapshot import GatewaySnapshot
from ollama_webmgr.runtime.worker_link import (
    CHECK,
    CONFIG,
    READY,
    Check,
    frame,
    pack_config,
    read_frames,
    unpack_report,
)
from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.sim.state import SimState
from process_env import clean_env
from waiting import wait_until

MODEL = "smollm2:135m"
KEY = "olw-lean-worker-test-key"


def _snapshot(node: str, *, keys: frozenset[str], draining: bool) -> GatewaySnapshot:
    address = node.removeprefix("http://")
    return GatewaySnapshot(
        settings={"max_attempts": 1},
        key_hashes=keys,
        servers=(Server("seul", node),),
        draining=(address,) if draining else (),
    )


@dataclass
class Worker:
    process: subprocess.Popen[str]
    channel: socket.socket
    url: str
    #: what it sent before ``READY``: its first health round
    reports: list[tuple[int, object]] = field(default_factory=list)

    def send(self, snapshot: GatewaySnapshot) -> None:
        self.channel.sendall(frame(CONFIG, pack_config(snapshot)))


@contextmanager
def _worker(tmp_path: Path, node: str, first: GatewaySnapshot) -> Iterator[Worker]:
    listener = socket.create_server(("127.0.0.1", 0))
    mine, theirs = socket.socketpair()
    port = listener.getsockname()[1]
    fds = f"{theirs.fileno()},{listener.fileno()}"
    env = clean_env(
        HOME=str(tmp_path),
        OLLAMA_BASE_URL="http://127.0.0.1:9",  # the supervisor's fleet wins
        WEBMGR_DATA_DIR=str(tmp_path / "data"),
        LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-X", "importtime", "-m", "ollama_webmgr", "gateway"]
    args = ["--host", "127.0.0.1", "--port", str(port), "--worker-fds", fds]
    with (tmp_path / "stderr").open("w") as stderr:
        process = subprocess.Popen(
            [*command, *args],
            cwd=tmp_path,
            env=env,
            pass_fds=(theirs.fileno(), listener.fileno()),
            stderr=stderr,
            text=True,
        )
    theirs.close()
    listener.close()
    worker = Worker(process, mine, f"http://127.0.0.1:{port}")
    try:
        worker.send(first)
        mine.settimeout(60)
        frames = read_frames(mine)
        try:
            for kind, payload in frames:
                if kind == READY:
                    break
                worker.reports.append((kind, unpack_report(payload)))
            else:
                raise AssertionError("the worker ended without serving")
        finally:
            frames.close()
        yield worker
    finally:
        mine.close()  # the supervisor is gone: the worker stops
        try:
            process.wait(30)
        finally:
            process.kill()


def _status(url: str, key: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return _show(url, headers).status_code


def _show(url: str, headers: dict[str, str]) -> httpx.Response:
    body = {"model": MODEL}
    return httpx.post(url + "/api/show", json=body, headers=headers, timeout=10)


def _modules(stderr: str) -> set[str]:
    """The modules a ``-X importtime`` run imported."""
    return {
        line.rsplit("|", 1)[1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_a_gateway_worker_serves_what_its_supervisor_sends_and_never_opens_the_store(
    tmp_path: Path,
) -> None:
    with serve_in_thread(create_app(SimState.with_models([MODEL]))) as node:
        keyed = _snapshot(node.url, keys=frozenset({hash_api_key(KEY)}), draining=False)
        with _worker(tmp_path, node.url, keyed) as worker:
            # without Redis the gateway keeps the history: its first round
            # went to the supervisor, to be stored there
            address = node.url.removeprefix("http://")
            checks = [r for k, r in worker.reports if k == CHECK]
            assert isinstance(checks[0], Check)
            assert (checks[0].address, checks[0].name) == (address, "seul")
            assert (checks[0].healthy, checks[0].load) == (True, 0.0)
            # the first configuration holds before the first request
            assert _status(worker.url) == 401
            assert _status(worker.url, KEY) == 200
            shown = _show(worker.url, {"Authorization": f"Bearer {KEY}"})
            assert shown.headers["X-Ollama-Server"] == "seul"
            # a change is applied as it comes: keys off, the only server drained
            worker.send(_snapshot(node.url, keys=frozenset(), draining=True))
            wait_until(lambda: _status(worker.url) == 503, timeout=10, what="the drain")
            worker.send(_snapshot(node.url, keys=frozenset(), draining=False))
            wait_until(lambda: _status(worker.url) == 200, timeout=10, what="undrain")
        assert worker.process.returncode == 0
    modules = _modules((tmp_path / "stderr").read_text())
    assert "ollama_webmgr.gateway.app" in modules  # the list is the worker's
    assert "redis" not in modules  # no REDIS_URL here
    assert not {m for m in modules if m.split(".")[0] == "sqlalchemy"}
    assert not {m for m in modules if m.startswith("ollama_webmgr.store.")}
    assert not (tmp_path / "data" / "webmgr.sqlite3").exists()
