"""The shipped nginx site (deploy/nginx) in front of the shipped processes
(the systemd units' commands), over TLS.

Debian's nginx runs as an unprivileged foreground process on free loopback
ports with the shipped file, only addresses, ports and paths changed
(``deploy_support.render_site``). Streams must cross it event by event.
"""

from __future__ import annotations

import itertools
import json
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from deploy_support import (
    NginxPorts,
    nginx_command,
    render_site,
    running_nginx,
    running_rq_worker,
    running_unit,
    self_signed_certificate,
    shipped_env,
    timed_lines,
    timed_sse,
    write_nginx_config,
)

from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from redis_fixtures import REDIS_URL, clean_redis

pytestmark = [pytest.mark.usefixtures("nginx_installed"), pytest.mark.redis]

PULLED = "all-minilm:latest"  # "46 MB" (scaled), not on the node at first
CHAT = "smollm2:135m"


def _config(tmp_path: Path, ports: NginxPorts, web: str, gateway: str) -> Path:
    cert, key = self_signed_certificate(tmp_path)
    site = render_site(tmp_path, ports, web=web, gateway=gateway, cert=cert, key=key)
    return write_nginx_config(tmp_path, site)


def test_shipped_site_passes_nginx_check(tmp_path: Path) -> None:
    config = _config(tmp_path, NginxPorts.free(), "127.0.0.1:9", "127.0.0.1:9")
    result = subprocess.run(
        nginx_command(tmp_path, config, "-t"), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@dataclass
class Stack:
    fleet: EmulatedFleet
    web: str  # https:// through nginx
    gateway: str
    plain: str  # http:// port 80's stand-in
    direct_web: str  # the web app's process itself
    client: httpx.Client


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    """Redis, as in production (two workers per service share it)."""
    redis = pytest.importorskip("redis")
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    prefix = f"test-nginx-{uuid.uuid4().hex[:10]}"
    yield prefix
    clean_redis(connection, prefix, queue=f"ollama-{prefix}")
    connection.close()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, redis_prefix: str
) -> Iterator[Stack]:
    """The web app and the gateway, two workers each, an RQ worker, on Redis:
    the shipped environment file's shape, on a fresh fleet and store."""
    tmp_path = tmp_path_factory.mktemp("nginx")
    with running_fleet([[CHAT]]) as fleet:
        pulled = fleet.registry.lookup(PULLED)
        assert pulled is not None  # sizes are scaled: the bandwidth follows them
        fleet.nodes[0].state.bandwidth = pulled.size / 2.0  # a 2 s pull
        fleet.nodes[0].state.token_delay = 0.15
        env = shipped_env(
            tmp_path,
            OLLAMA_BASE_URL=fleet.urls[0],
            REDIS_URL=REDIS_URL,
            REDIS_PREFIX=redis_prefix,
            WEB_CONCURRENCY="2",
        )
        with (
            running_rq_worker(tmp_path, env),
            running_unit(tmp_path, "ollama-webmgr-web", env) as web,
            running_unit(tmp_path, "ollama-webmgr-gateway", env) as gateway,
        ):
            ports = NginxPorts.free()
            upstreams = [url.removeprefix("http://") for url in (web, gateway)]
            config = _config(tmp_path, ports, *upstreams)
            tls = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
            with (
                running_nginx(tmp_path, config, ports.https),
                httpx.Client(verify=tls, timeout=30) as client,
            ):
                yield Stack(
                    fleet,
                    f"https://127.0.0.1:{ports.https}",
                    f"https://127.0.0.1:{ports.gateway}",
                    f"http://127.0.0.1:{ports.http}",
                    web,
                    client,
                )


@pytest.mark.slow
def test_pull_progress_crosses_nginx_event_by_event(stack: Stack) -> None:
    answer = stack.client.post(stack.web + "/api/models/pull", json={"name": PULLED})
    assert answer.status_code == 202, answer.text
    url = f"{stack.web}/api/stream/progress?job_id={answer.json()['job_id']}"
    with stack.client.stream("GET", url) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers  # never gzipped
        events = list(timed_sse(response))
    assert events[-1].event == "done", events[-1]
    end = events[-1].at
    progress = [e for e in events if e.event == "progress"]
    assert len(progress) >= 5
    # a 2 s download: events keep arriving during it, not in one burst at the end
    early = [e for e in progress if end - e.at > 0.5]
    assert len(early) >= 3, [round(end - e.at, 3) for e in progress]
    assert len({round(e.at, 2) for e in progress}) >= 5


@pytest.mark.slow
def test_gateway_ndjson_crosses_nginx_line_by_line(stack: Stack) -> None:
    body = {"model": CHAT, "prompt": "Bonjour"}
    with stack.client.stream(
        "POST", stack.gateway + "/api/generate", json=body
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = list(timed_lines(response))
    assert json.loads(lines[-1].data)["done"] is True
    tokens = lines[:-1]
    assert len(tokens) >= 8
    # 150 ms between tokens at the node: they come one by one, not in a burst
    gaps = [b.at - a.at for a, b in itertools.pairwise(tokens)]
    assert sorted(gaps)[len(gaps) // 2] > 0.1, gaps


@pytest.mark.slow
def test_static_assets_compression_and_redirect(stack: Stack) -> None:
    page = stack.client.get(stack.web + "/", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "gzip"  # nginx's gzip
    assert page.headers["strict-transport-security"] == "max-age=31536000"
    asset = next(
        part.split('"', 1)[0]
        for part in page.text.split('href="')[1:]
        if part.startswith("/static/dist/") and '.css"' in part
    )
    css = stack.client.get(stack.web + asset, headers={"Accept-Encoding": "br"})
    assert css.status_code == 200
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert css.headers["content-encoding"] == "br"  # the app's precompressed file
    health = stack.client.get(stack.web + "/health")
    assert health.json()["status"] == "ok"
    redirect = stack.client.get(stack.plain + "/models?x=1")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "https://127.0.0.1/models?x=1"
