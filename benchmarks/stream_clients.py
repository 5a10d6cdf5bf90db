"""N concurrent streaming clients in one gevent process; prints a JSON summary.

All connections are opened first, then every request is sent at once; the wall
time runs from then until the last stream ends. A stream counts as complete when
it ends with Ollama's final line (``"done": true``) after the expected lines.
``python benchmarks/stream_clients.py PORT CLIENTS LINES MODEL``.
"""

from gevent import monkey

monkey.patch_all()

import http.client  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

PORT, CLIENTS, LINES, MODEL = map(str, sys.argv[1:5])
BODY = json.dumps({"model": MODEL, "prompt": "bonjour", "stream": True}).encode()
HEADERS = {"Content-Type": "application/json"}


def client(go: Event, ready: list[int], results: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", int(PORT), timeout=120)
    try:
        try:
            conn.connect()
        finally:
            ready.append(1)
        go.wait()
        conn.request("POST", "/api/generate", body=BODY, headers=HEADERS)
        response = conn.getresponse()
        lines = [line for line in iter(response.readline, b"") if line.strip()]
        done = bool(lines) and json.loads(lines[-1]).get("done") is True
        ok = response.status == 200 and len(lines) == int(LINES) and done
        results.append("ok" if ok else f"status {response.status}, {len(lines)} lines")
    except Exception as exc:  # reported, never raised: the summary counts it
        results.append(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    go, ready, results = Event(), [], []
    greenlets = [gevent.spawn(client, go, ready, results) for _ in range(int(CLIENTS))]
    deadline = time.monotonic() + 30
    while len(ready) < int(CLIENTS) and time.monotonic() < deadline:
        gevent.sleep(0.01)  # every connection open (or failed) first
    started = time.perf_counter()
    go.set()
    gevent.joinall(greenlets)
    wall = time.perf_counter() - started
    errors = [r for r in results if r != "ok"]
    summary = {
        "complete": len(results) - len(errors),
        "clients": int(CLIENTS),
        "wall": wall,
        "errors": sorted(set(errors))[:5],
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
