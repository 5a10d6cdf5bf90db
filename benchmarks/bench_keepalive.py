"""A long keep-alive run: does a busy connection ever lose a request?

The gateway as deployed (``ollama-webmgr gateway``, 2 workers sharing Redis) and
the bare reference relay, side by side over one emulated node, each taking
100 requests/s for 10 minutes on 4 keep-alive connections (25 requests/s each,
paced). A request is lost when its connection fails under it (closed, reset,
timed out) or its answer is not a complete 200; the client then reconnects and
goes on. ``KEEPALIVE_SECONDS`` shortens the run for a quick look.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from dataclasses import dataclass

from relay_support import (
    drop_redis_keys,
    free_port,
    start_node,
    start_relays,
    stop,
    wait_ready,
)

MODEL = "smollm2:135m"
SHOW = json.dumps({"model": MODEL}).encode()
CONNECTIONS = 4
RATE = 100.0  # requests per second, per path
SECONDS = float(os.environ.get("KEEPALIVE_SECONDS", "600"))


@dataclass
class Tally:
    sent: int = 0
    answered: int = 0
    lost: int = 0
    reconnects: int = 0


def _connection(port: int, tally: Tally, stop_at: float, lock: threading.Lock) -> None:
    interval = CONNECTIONS / RATE
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    next_at = time.monotonic()
    while next_at < stop_at:
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        try:
            conn.request("POST", "/api/show", SHOW)
            response = conn.getresponse()
            body = response.read()
            ok = response.status == 200 and json.loads(body).get("details") is not None
        except (OSError, http.client.HTTPException, ValueError):
            ok = False
        with lock:
            tally.sent += 1
            tally.answered += ok
            tally.lost += not ok
            if not ok:
                tally.reconnects += 1
        if not ok:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()


def _drive(ports: dict[str, int]) -> dict[str, Tally]:
    tallies = {name: Tally() for name in ports}
    lock = threading.Lock()
    stop_at = time.monotonic() + SECONDS
    threads = [
        threading.Thread(
            target=_connection, args=(port, tallies[name], stop_at, lock), daemon=True
        )
        for name, port in ports.items()
        for _ in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tallies


def run() -> str:
    node = free_port()
    upstream = f"http://127.0.0.1:{node}"
    ports = {"bare relay": free_port(), "gateway": free_port()}
    processes = [start_node(node, MODEL), *start_relays(upstream, ports).values()]
    try:
        for port in ports.values():
            wait_ready(port, "/api/show", SHOW)
        tallies = _drive(ports)
    finally:
        stop(processes)
        drop_redis_keys()
    return _report(tallies)


def _report(tallies: dict[str, Tally]) -> str:
    minutes = SECONDS / 60
    lines = [
        "## Long keep-alive run",
        "",
        f"The gateway as deployed (2 workers sharing Redis) and the bare relay side by"
        f" side over one emulated node, each taking {RATE:.0f} requests/s"
        f" (`POST /api/show`) for {minutes:g} minutes on {CONNECTIONS} keep-alive"
        " connections, paced. A request is lost when its connection fails under it"
        " or its answer is not a complete 200; the client then reconnects"
        " (`benchmarks/bench_keepalive.py`).",
        "",
        "Target: the gateway loses nothing.",
        "",
        "| path | sent | answered | lost | reconnections |",
        "|---|---|---|---|---|",
    ]
    for name, tally in tallies.items():
        verdict = (" ✅" if tally.lost == 0 else " ❌") if name == "gateway" else ""
        lines.append(
            f"| {name} | {tally.sent:,} | {tally.answered:,} | {tally.lost}{verdict}"
            f" | {tally.reconnects} |"
        )
    return "\n".join(lines)
