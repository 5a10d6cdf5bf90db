"""The delay nginx adds per streamed event (deploy/nginx in front of the shipped processes).

The shipped nginx site (TLS, tests/deploy/deploy_support.render_site) runs in
front of the systemd units' commands (one worker each for the web app and the gateway) over one
emulated node. SSE: each pull is followed by two clients at once, one straight to
the process and one through nginx; for every live event (same id on both streams)
the delay is its arrival through nginx minus its arrival direct, on one clock.
NDJSON: ``/api/generate`` streams, alternately direct and through nginx; each
line's delay is its arrival time minus the ``created_at`` the node stamped it
with; nginx's share is the difference of the two medians.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "deploy")]

from deploy_support import (  # noqa: E402
    NginxPorts,
    nginx_binary,
    render_site,
    running_nginx,
    running_unit,
    self_signed_certificate,
    shipped_env,
    timed_lines,
    timed_sse,
    write_nginx_config,
)

from ollama_webmgr.sim.fleet import running_fleet  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from run_all import machine  # noqa: E402

PULLED = "all-minilm:latest"
CHAT = "smollm2:135m"
PULLS = 4
PULL_SECONDS = 3.0
GENERATIONS = 10
REPLAY_MARGIN = 0.2  # events arriving this soon after connecting may be replays


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _follow(client: httpx.Client, url: str, out: dict[str, float]) -> None:
    """Arrival time of each event id; ``out["ready"]``: when the stream opened."""
    with client.stream("GET", url) as response:
        for number, event in enumerate(timed_sse(response)):
            if number == 0:
                out["ready"] = event.at
            if event.id:
                out[event.id] = event.at


def sse_delays(client: httpx.Client, direct: str, proxied: str) -> list[float]:
    delays = []
    for _ in range(PULLS):
        answer = client.post(direct + "/api/models/pull", json={"name": PULLED})
        query = f"/api/stream/progress?job_id={answer.json()['job_id']}"
        seen: list[dict[str, float]] = [{}, {}]
        threads = [
            threading.Thread(target=_follow, args=(client, base + query, record))
            for base, record in zip((direct, proxied), seen, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        live_after = max(seen[0]["ready"], seen[1]["ready"]) + REPLAY_MARGIN
        delays += [
            (seen[1][key] - at) * 1000
            for key, at in seen[0].items()
            if key != "ready" and key in seen[1] and at > live_after
        ]
        client.delete(f"{direct}/api/models/{PULLED}")
    return delays


def line_delays(client: httpx.Client, base: str) -> list[float]:
    body = {"model": CHAT, "prompt": "Bonjour"}
    with client.stream("POST", base + "/api/generate", json=body) as response:
        lines = list(timed_lines(response))
    offset = time.time() - time.monotonic()
    return [
        (
            line.at
            + offset
            - datetime.fromisoformat(json.loads(line.data)["created_at"]).timestamp()
        )
        * 1000
        for line in lines
    ]


def run() -> str:
    with tempfile.TemporaryDirectory() as name, running_fleet([[CHAT]]) as fleet:
        tmp = Path(name)
        node = fleet.nodes[0].state
        pulled = fleet.registry.lookup(PULLED)
        assert pulled is not None  # its size is the scaled catalogue's
        node.bandwidth = pulled.size / PULL_SECONDS
        node.token_delay = 0.05
        env = shipped_env(tmp, OLLAMA_BASE_URL=fleet.urls[0])
        with (
            running_unit(tmp, "ollama-webmgr-web", env) as web,
            running_unit(tmp, "ollama-webmgr-gateway", env) as gateway,
        ):
            ports = NginxPorts.free()
            cert, key = self_signed_certificate(tmp)
            site = render_site(
                tmp,
                ports,
                web=web.removeprefix("http://"),
                gateway=gateway.removeprefix("http://"),
                cert=cert,
                key=key,
            )
            config = write_nginx_config(tmp, site)
            tls = ssl.create_default_context(cafile=str(cert))
            with (
                running_nginx(tmp, config, ports.https),
                httpx.Client(verify=tls, timeout=60) as client,
            ):
                sse = sse_delays(client, web, f"https://127.0.0.1:{ports.https}")
                direct: list[float] = []
                proxied: list[float] = []
                for _ in range(GENERATIONS):
                    direct += line_delays(client, gateway)
                    proxied += line_delays(client, f"https://127.0.0.1:{ports.gateway}")
    added = percentile(proxied, 0.5) - percentile(direct, 0.5)
    rows = [
        "| stream | samples | p50 | p95 | max |",
        "|---|---|---|---|---|",
        _row("SSE event, through nginx minus direct", sse),
        _row("NDJSON line, direct (arrival - `created_at`)", direct),
        _row("NDJSON line, through nginx (arrival - `created_at`)", proxied),
    ]
    return "\n".join(
        [
            "## nginx in front: delay added per streamed event",
            "",
            "The shipped `deploy/nginx/ollama-webmgr.conf` (TLS 1.3 with a self-signed"
            f" certificate, HTTP/1.1 to the client) run by Debian's {_nginx_version()}"
            " on loopback,"
            " in front of the systemd units' commands (`ollama-webmgr serve"
            " --no-gateway`, `ollama-webmgr gateway`), one worker each, over one"
            " emulated node. SSE: "
            f"{PULLS} pulls of `{PULLED}` ({PULL_SECONDS:.0f} s each), each followed"
            " by two clients at once, straight to the web app and through nginx; the"
            " delay of a live event is its arrival through nginx minus its arrival"
            " direct (same event id, same clock; replayed events left out). NDJSON:"
            f" {GENERATIONS} `/api/generate` streams each way, alternately; a line's"
            " delay is its arrival minus the `created_at` the node stamped on it."
            f" Machine: {machine()}.",
            "",
            *rows,
            "",
            _verdict(percentile(sse, 0.5), added),
        ]
    )


def _nginx_version() -> str:
    result = subprocess.run(
        [nginx_binary(), "-v"], capture_output=True, text=True, check=True
    )
    return result.stderr.strip().removeprefix("nginx version: ").replace("/", " ")


def _verdict(sse: float, ndjson: float) -> str:
    text = (
        f"Median delay added by nginx: {sse:.2f} ms per SSE event, {ndjson:.2f} ms"
        " per NDJSON line (difference of the medians)."
    )
    if max(abs(sse), abs(ndjson)) < 2:
        text += (
            " Both are within the jitter of the method (the direct and proxied"
            " SSE clients are served by two greenlets in either order, so single"
            " differences can be negative): events cross nginx one by one, none"
            " waits for a buffer to fill."
        )
    return text


def _row(label: str, values: list[float]) -> str:
    return (
        f"| {label} | {len(values)} | {percentile(values, 0.5):.2f} ms"
        f" | {percentile(values, 0.95):.2f} ms | {max(values):.2f} ms |"
    )


if __name__ == "__main__":
    print(run())
