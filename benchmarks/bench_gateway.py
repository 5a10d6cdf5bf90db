"""The gateway against a direct call and a bare relay, side by side in one run.

Three processes on loopback, each as in production: an emulated node
(``ollama-webmgr sim``), the gateway (``ollama-webmgr gateway``, gevent) and the
bare reference relay (``benchmarks/bare_relay.py``, raw WSGI + pooled urllib3
under gevent). One client process measures the three paths interleaved.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODEL = "smollm2:135m"
SHOW = json.dumps({"model": MODEL}).encode()
STREAM = json.dumps({"model": MODEL, "prompt": "bonjour", "stream": True}).encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(port: int, path: str = "/", body: bytes | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("POST" if body else "GET", path, body=body)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"port {port} did not answer {path}")


def _start(
    command: list[str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )


def _show(conn: http.client.HTTPConnection) -> float:
    started = time.perf_counter()
    conn.request("POST", "/api/show", body=SHOW)
    response = conn.getresponse()
    response.read()
    assert response.status == 200
    return time.perf_counter() - started


def _first_line(conn: http.client.HTTPConnection) -> float:
    started = time.perf_counter()
    conn.request("POST", "/api/generate", body=STREAM)
    response = conn.getresponse()
    response.readline()
    elapsed = time.perf_counter() - started
    response.read()
    return elapsed


def _interleaved(
    ports: dict[str, int], call: Callable[[http.client.HTTPConnection], float], n: int
) -> dict[str, list[float]]:
    conns = {
        name: http.client.HTTPConnection("127.0.0.1", p) for name, p in ports.items()
    }
    times: dict[str, list[float]] = {name: [] for name in ports}
    for _ in range(n):
        for name, conn in conns.items():
            times[name].append(call(conn) * 1000)
    for conn in conns.values():
        conn.close()
    return times


def _throughput(port: int, clients: int = 32, seconds: float = 4.0) -> float:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        while time.monotonic() < stop:
            _show(conn)
            done[index] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def _target(ratio: float, limit: float, *, higher: bool = False) -> str:
    ok = ratio >= limit if higher else ratio <= limit
    return f"{ratio:.2f}× {'✅' if ok else '❌'}"


def _q(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def run() -> str:
    node, gateway, bare = _free_port(), _free_port(), _free_port()
    data = tempfile.mkdtemp(prefix="bench-gw-")
    env = {
        **os.environ,
        "OLLAMA_BASE_URL": f"http://127.0.0.1:{node}",
        "WEBMGR_DATA_DIR": data,
        "DATABASE_URL": f"sqlite:///{data}/store.sqlite3",
    }
    python = sys.executable
    processes = [
        _start(
            [
                python,
                "-m",
                "ollama_webmgr",
                "sim",
                "--models",
                MODEL,
                "--port",
                str(node),
            ]
        ),
        _start([python, "-m", "ollama_webmgr", "gateway", "--port", str(gateway)], env),
        _start(
            [python, str(HERE / "bare_relay.py"), f"http://127.0.0.1:{node}", str(bare)]
        ),
    ]
    try:
        for port in (node, bare, gateway):
            _wait(port, "/api/show", SHOW)
        ports = {"direct": node, "bare relay": bare, "gateway": gateway}
        _interleaved(ports, _show, 200)  # warm-up
        small = _interleaved(ports, _show, 1500)
        first = _interleaved(ports, _first_line, 200)
        rates = {name: _throughput(port) for name, port in ports.items()}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
    return _report(small, first, rates)


def _report(
    small: dict[str, list[float]],
    first: dict[str, list[float]],
    rates: dict[str, float],
) -> str:
    def added(times: dict[str, list[float]], name: str, q: float) -> float:
        return _q(times[name], q) - _q(times["direct"], q)

    lines = [
        "## Gateway overhead (direct vs bare relay vs gateway)",
        "",
        "Three processes on loopback: an emulated node (`ollama-webmgr sim`), the"
        " gateway (`ollama-webmgr gateway`, gevent, SQLite store) and the bare"
        " reference relay (`benchmarks/bare_relay.py`: raw WSGI + one pooled urllib3"
        " client under gevent, no features). One client process, keep-alive"
        " connections, the three paths interleaved request by request."
        " Small request: `POST /api/show` (relayed to the node by both relays)."
        " First line: `POST /api/generate` streamed, time to the first NDJSON line."
        " Throughput: 32 client threads for 4 s per path (the client shares the"
        " 2 cores, so absolute rates are lower than with an external load"
        " generator; the ratio is what counts).",
        "",
        "Targets: added latency and added time to the first line ≤ 1.5× the bare"
        " relay's; throughput ≥ 0.8× the bare relay's.",
        "",
        "| measure | direct | bare relay | gateway | gateway / bare |",
        "|---|---|---|---|---|",
    ]
    for q in (50, 99):
        bare_added = added(small, "bare relay", q)
        gw_added = added(small, "gateway", q)
        lines.append(
            f"| small request p{q} (ms) | {_q(small['direct'], q):.2f}"
            f" | {_q(small['bare relay'], q):.2f} (+{bare_added:.2f})"
            f" | {_q(small['gateway'], q):.2f} (+{gw_added:.2f})"
            f" | {_target(gw_added / bare_added, 1.5)} |"
        )
    bare_first = added(first, "bare relay", 50)
    gw_first = added(first, "gateway", 50)
    lines.append(
        f"| first streamed line p50 (ms) | {_q(first['direct'], 50):.2f}"
        f" | {_q(first['bare relay'], 50):.2f} (+{bare_first:.2f})"
        f" | {_q(first['gateway'], 50):.2f} (+{gw_first:.2f})"
        f" | {_target(gw_first / bare_first, 1.5)} |"
    )
    lines.append(
        f"| throughput, 32 clients (req/s) | {rates['direct']:.0f}"
        f" | {rates['bare relay']:.0f} | {rates['gateway']:.0f}"
        f" | {_target(rates['gateway'] / rates['bare relay'], 0.8, higher=True)} |"
    )
    lines += [
        "",
        "Not measured yet: LiteLLM's proxy and an aiohttp relay as further"
        " references, and 1,000 concurrent streams with the gateway's RSS.",
    ]
    return "\n".join(lines)
