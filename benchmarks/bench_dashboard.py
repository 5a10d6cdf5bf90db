"""Dashboard render time over an emulated fleet, with a dead and a hung server."""

from __future__ import annotations

import socket
import statistics
import tempfile
import time
from pathlib import Path

from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.runtime.services import EXTENSION_KEY
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.fleet import running_fleet

MODELS = ["smollm2:135m", "all-minilm:latest", "qwen2.5:0.5b"]
RUNS = 20


def timings(app_client: object, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = app_client.get("/")  # type: ignore[attr-defined]
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def row(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"| {label} | {len(times)} | {statistics.median(times):.0f} ms"
        f" | {p95:.0f} ms | {max(times):.0f} ms |"
    )


def run() -> str:
    rows = []
    with (
        running_fleet([MODELS, MODELS[:2], MODELS[:1]], library_port=None) as fleet,
        tempfile.TemporaryDirectory() as data,
        socket.create_server(("127.0.0.1", 0)) as silent,
    ):
        primary, *others = fleet.urls
        settings = Settings(
            ollama_base_url=primary,
            ollama_servers=tuple(others),
            data_dir=str(Path(data)),
            secret_key="bench",
        )
        app = create_app(settings)
        services = app.extensions[EXTENSION_KEY]
        client = app.test_client()
        client.get("/")  # first request: templates compiled, clients built
        rows.append(row("3 nodes", timings(client, RUNS)))
        services.servers.add(Server("refused", "http://127.0.0.1:9"))
        rows.append(row("3 nodes + 1 refusing connections", timings(client, RUNS)))
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        services.servers.add(Server("hung", url))
        rows.append(row("3 nodes + 1 refusing + 1 never answering", timings(client, 3)))
        services.close()
    table = "\n".join(rows)
    return f"""## Dashboard (`GET /`) over a fleet

Flask test client in-process; three emulated nodes on real sockets (3, 2 and 1
models installed). Each request asks every enabled server for its version,
`/api/tags` and `/api/ps`, all servers in parallel with the pooled probe clients
(connect 1 s, read 3 s) and a 2 s deadline for the whole set. A server refusing
connections costs nothing; one that accepts and never answers is shown as timed
out when the deadline passes, so the page never takes much more than 2 s.

| fleet | requests | p50 | p95 | max |
|---|---|---|---|---|
{table}

The brief asks for the local list in < 2 s; the dashboard stays far below while
every server answers or refuses."""


if __name__ == "__main__":
    print(run())
