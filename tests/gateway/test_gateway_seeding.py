"""``POST /api/pull`` through the gateway to three nodes: the registry's bytes once.

Real sockets throughout: three emulated nodes, the fake registry counting the
bytes it serves, the web app serving the seed cache at ``SEED_CACHE_URL``, and
the gateway built from the same settings (same data dir) as ``serve`` builds it.
The pull is made with a raw HTTP client, the official Python client and the
official JavaScript one (npm ``ollama``).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import ollama
import pytest

from fleet_support import FAST, fleet_services
from ollama_webmgr.gateway.snapshot import apply_snapshot
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.sim.app import create_app as create_node_app
from ollama_webmgr.sim.catalog import DEFAULT_SCALE
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import RunningServer, serve_in_thread, start_in_thread
from ollama_webmgr.usecases import download_settings
from ollama_webmgr.usecases.actor import Actor
from ollama_webmgr.usecases.gateway_settings import read_snapshot
from waiting import wait_until

MODEL = "all-minilm:latest"  # on no node
NODES = [("smollm2:135m",)] * 3
ROOT = Path(__file__).resolve().parents[2]
JS_PULL = Path(__file__).resolve().parent / "js_pull.mjs"


@pytest.fixture
def scale() -> float:
    """The catalogue's scale (a test may ask for larger blobs)."""
    return DEFAULT_SCALE


@pytest.fixture
def fleet(scale: float) -> Iterator[EmulatedFleet]:
    options = {"scale": scale}
    with running_fleet(NODES, bandwidth=FAST, registry_options=options) as running:
        yield running


@pytest.fixture
def services(
    fleet: EmulatedFleet, tmp_path: Path, cache_url: str
) -> Iterator[Services]:
    with fleet_services(fleet, tmp_path, seed_cache_url=cache_url) as built:
        yield built


@contextmanager
def gateway_url(services: Services) -> Iterator[str]:
    """The gateway ``serve`` builds from these settings, on its own port."""
    services.gateway.monitor.check_all()
    with serve_in_thread(services.gateway.app) as running:
        yield running.url


@pytest.fixture
def gateway(services: Services, web: RunningServer) -> Iterator[str]:
    with gateway_url(services) as url:
        yield url


def model_size(fleet: EmulatedFleet) -> int:
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    return entry.size


def blob_sizes(fleet: EmulatedFleet) -> dict[str, int]:
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    return {layer.digest: layer.size for layer in [*entry.layers(), entry.config]}


def registry_digest(fleet: EmulatedFleet) -> str:
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    return hashlib.sha256(entry.manifest_bytes()).hexdigest()


def tags(url: str) -> dict[str, str]:
    answer = httpx.get(f"{url}/api/tags", timeout=5)
    return {m["name"]: m["digest"] for m in answer.json()["models"]}


def raw_pull(url: str, **extra: Any) -> tuple[httpx.Response, list[dict[str, Any]]]:
    with httpx.stream(
        "POST", f"{url}/api/pull", json={"model": MODEL, **extra}, timeout=60
    ) as answer:
        lines = [json.loads(raw) for raw in answer.iter_lines() if raw.strip()]
    return answer, lines


def check_stream(
    lines: list[dict[str, Any]], sizes: dict[str, int], *, every: bool = True
) -> None:
    """One Ollama's pull stream (contract §5.1, §5.2): ``pulling manifest``, each
    blob's lines one blob after the other with its own size as ``total``, then
    ``verifying sha256 digest``, ``writing manifest``, ``success``. A seeded
    pull shows ``every`` blob (the fill reports each); pulled directly, a blob
    fetched within a tick may have no line, as with one Ollama."""
    statuses = [line.get("status") for line in lines]
    assert statuses[0] == "pulling manifest", lines
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    assert statuses.count("pulling manifest") == 1, statuses
    blobs = lines[1:-3]
    for line in blobs:
        digest = line["digest"]
        assert line["status"] == f"pulling {digest[7:19]}", line
        assert line["total"] == sizes[digest], line
        assert 0 < line.get("completed", 1) <= line["total"], line
    seen = [line["digest"] for line in blobs]
    runs = [d for i, d in enumerate(seen) if i == 0 or seen[i - 1] != d]
    assert len(runs) == len(set(runs)), "a blob came back after another one"
    assert set(seen) <= set(sizes), "blobs of this model only"
    assert seen, "some progress"
    last = {line["digest"]: line.get("completed") for line in blobs}
    assert last == {digest: sizes[digest] for digest in last}  # bars end full
    if every:
        assert set(seen) == set(sizes)


def check_seeded(fleet: EmulatedFleet) -> None:
    assert fleet.registry.served.total <= 1.05 * model_size(fleet)
    for node in fleet.nodes:
        found = tags(node.url)
        assert found.get(MODEL) == registry_digest(fleet), found
        assert not [name for name in found if "/" in name]  # the cache's name went


def test_a_raw_pull_through_the_gateway_takes_the_model_from_the_registry_once(
    gateway: str, fleet: EmulatedFleet
) -> None:
    fleet.registry.served.reset()
    answer, lines = raw_pull(gateway)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/x-ndjson"
    assert len(answer.headers["X-Ollama-Server"].split(",")) == 3
    check_stream(lines, blob_sizes(fleet))
    check_seeded(fleet)
    # the gateway's listing has it at once, under its own name only
    listed = {m["name"] for m in httpx.get(f"{gateway}/api/tags").json()["models"]}
    assert MODEL in listed
    assert not [name for name in listed if "/" in name]
    # up to date everywhere: each node answers so, one complete line per blob
    before = fleet.registry.served.total
    _, lines = raw_pull(gateway)
    check_stream(lines, blob_sizes(fleet))
    assert len(lines) == 3 + len(blob_sizes(fleet)) + 1
    assert fleet.registry.served.total == before
    # gone from the nodes, not from the cache: nothing more from the registry
    for node in fleet.nodes:
        assert httpx.request(
            "DELETE", f"{node.url}/api/delete", json={"model": MODEL}
        ).is_success
    again = httpx.post(
        f"{gateway}/api/pull", json={"model": MODEL, "stream": False}, timeout=60
    )
    assert again.json() == {"status": "success"}
    assert fleet.registry.served.total == before
    check_seeded(fleet)


def test_the_official_clients_read_a_seeded_pull_as_one_ollamas(
    gateway: str, fleet: EmulatedFleet
) -> None:
    fleet.registry.served.reset()
    sizes = blob_sizes(fleet)
    ran = subprocess.run(
        ["node", str(JS_PULL), gateway, MODEL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    check_stream(json.loads(ran.stdout), sizes)
    check_seeded(fleet)
    # the Python client too, once the nodes lost it: all from the cache
    for node in fleet.nodes:
        assert httpx.request(
            "DELETE", f"{node.url}/api/delete", json={"model": MODEL}
        ).is_success
    fleet.registry.served.reset()
    with ollama.Client(host=gateway) as client:
        parts = [
            p.model_dump(exclude_none=True) for p in client.pull(MODEL, stream=True)
        ]
    check_stream(parts, sizes)
    assert fleet.registry.served.total == 0  # the cache kept the blobs
    check_seeded(fleet)


def test_a_node_stopped_mid_seed_fails_alone(
    gateway: str, services: Services, fleet: EmulatedFleet
) -> None:
    fleet.registry.served.reset()
    size = model_size(fleet)
    fleet.registry.faults.update({"slow": size / 1.0})  # the fill takes ~1 s
    gone = fleet.nodes[2]
    name = next(s.name for s in services.servers.all() if s.url == gone.url)
    with httpx.stream(
        "POST", f"{gateway}/api/pull", json={"model": MODEL}, timeout=60
    ) as answer:
        lines = answer.iter_lines()
        assert json.loads(next(lines)) == {"status": "pulling manifest"}
        wait_until(lambda: fleet.registry.served.total > 0)
        gone.server.stop()  # while the cache is being filled
        rest = [json.loads(raw) for raw in lines if raw.strip()]
    final = rest[-1]
    assert "success" not in [line.get("status") for line in rest]
    assert set(final) == {"error"}, final
    assert final["error"].startswith(f"{name}: "), final
    assert ";" not in final["error"]  # the other two succeeded
    for node in fleet.nodes[:2]:
        assert tags(node.url).get(MODEL) == registry_digest(fleet)
        assert not [n for n in tags(node.url) if "/" in n]
    assert fleet.registry.served.total <= 1.05 * size


@pytest.mark.parametrize("scale", [0.5])  # ~23 MB: the fill reports each MiB
def test_a_client_that_leaves_stops_the_fill(
    gateway: str, fleet: EmulatedFleet
) -> None:
    fleet.registry.served.reset()
    size = model_size(fleet)
    fleet.registry.faults.update({"slow": size / 4.0})  # the fill would take ~4 s
    with httpx.stream(
        "POST", f"{gateway}/api/pull", json={"model": MODEL}, timeout=60
    ) as answer:
        lines = answer.iter_lines()
        assert json.loads(next(lines)) == {"status": "pulling manifest"}
        assert "digest" in json.loads(next(lines))  # the fill is under way
    # gone: the gateway sees it at its next line and stops the fill
    wait_until(lambda: _steady(fleet))
    assert fleet.registry.served.total < size / 2
    for node in fleet.nodes:
        assert MODEL not in tags(node.url)


def _steady(fleet: EmulatedFleet) -> bool:
    """No registry byte served for half a second."""
    before = fleet.registry.served.total
    time.sleep(0.5)
    return fleet.registry.served.total == before


def test_without_the_cache_at_its_address_each_node_pulls_directly(
    services: Services, fleet: EmulatedFleet
) -> None:
    # no web app on SEED_CACHE_URL: the fan-out of before
    fleet.registry.served.reset()
    with gateway_url(services) as url:
        answer, lines = raw_pull(url)
        assert answer.status_code == 200
        check_stream(lines, blob_sizes(fleet), every=False)
    assert fleet.registry.served.total > 2.9 * model_size(fleet)  # each its own
    for node in fleet.nodes:
        assert tags(node.url).get(MODEL) == registry_digest(fleet)


@pytest.mark.parametrize("extra", [{"insecure": True}], ids=["insecure"])
def test_an_insecure_pull_is_not_seeded(
    gateway: str, fleet: EmulatedFleet, extra: dict[str, Any]
) -> None:
    fleet.registry.served.reset()
    _, lines = raw_pull(gateway, **extra)
    assert lines[-1] == {"status": "success"}
    assert fleet.registry.served.total > 2.9 * model_size(fleet)  # each its own


class NoRouteTo:
    """A node that cannot reach ``netloc``: its pull of a name there fails as
    Ollama's does, naming the address (the rest goes to the emulated node)."""

    def __init__(self, app: Any, netloc: str) -> None:
        self.app = app
        self.netloc = netloc

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/api/pull":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            if json.loads(body)["model"].startswith(self.netloc):
                refused = f'Get "http://{self.netloc}/v2/": connection refused'
                lines = [{"status": "pulling manifest"}, {"error": refused}]
                start_response("200 OK", [("Content-Type", "application/x-ndjson")])
                return [b"".join(json.dumps(line).encode() + b"\n" for line in lines)]
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


def test_a_node_that_cannot_reach_the_cache_pulls_directly(
    services: Services, web: RunningServer, fleet: EmulatedFleet, cache_url: str
) -> None:
    cut = fleet.nodes[2]
    port = cut.server.port
    cut.server.stop()
    app = NoRouteTo(create_node_app(cut.state), urlsplit(cache_url).netloc)
    cut.server = start_in_thread(app, port=port)
    fleet.registry.served.reset()
    with gateway_url(services) as url:
        answer, lines = raw_pull(url)
    assert answer.status_code == 200
    check_stream(lines, blob_sizes(fleet))
    # the cache's fill, and the cut node's own pull
    size = model_size(fleet)
    assert 1.9 * size < fleet.registry.served.total <= 2.05 * size
    for node in fleet.nodes:
        found = tags(node.url)
        assert found.get(MODEL) == registry_digest(fleet), found
        assert not [name for name in found if "/" in name]


def test_a_fill_that_fails_ends_the_stream_with_one_ollama_error(
    gateway: str, fleet: EmulatedFleet
) -> None:
    fleet.registry.faults.update({"corrupt": True})  # the blobs' bytes are wrong
    answer, lines = raw_pull(gateway)
    assert answer.status_code == 200
    assert lines[0] == {"status": "pulling manifest"}
    assert set(lines[-1]) == {"error"}, lines[-1]
    assert lines[-1]["error"].startswith("seed cache: digest mismatch"), lines[-1]
    for node in fleet.nodes:
        assert MODEL not in tags(node.url)
    # without a stream: the same error, as one Ollama's answer
    failed = httpx.post(f"{gateway}/api/pull", json={"model": MODEL, "stream": False})
    assert failed.status_code == 502
    assert failed.json()["error"].startswith("seed cache: ")


def test_under_the_fleet_cap_a_pull_to_one_server_goes_through_the_cache_at_its_rate(
    gateway: str, fleet: EmulatedFleet, services: Services
) -> None:
    """The cap saved on « Téléchargements » reaches the gateway with its other
    settings (``read_snapshot``), and its fill keeps to it."""
    size = model_size(fleet)
    rate = size / 2.0  # the model in about 2 s at the cap
    admin = Actor("admin")
    download_settings.change(services, admin, {"fleet_rate": rate})
    config = services.gateway.app.config
    apply_snapshot(
        read_snapshot(services.db, services.settings.servers),
        config,
        services.gateway.app.registry,
    )
    assert config.seed_fleet_rate == rate
    fleet.registry.served.reset()
    first = fleet.nodes[0]
    [server] = [s for s in services.servers.all() if s.url == first.url]
    started = time.monotonic()
    answer, lines = raw_pull(gateway, stream=True)
    took = time.monotonic() - started
    assert answer.headers["X-Ollama-Server"].count(",") == 2  # the three of them
    assert lines[-1] == {"status": "success"}
    assert took >= 0.8 * size / rate  # paced, not at the LAN's speed
    check_seeded(fleet)
    # one server: seeded too under the cap (its bytes counted by the cache)
    httpx.request("DELETE", f"{first.url}/api/delete", json={"model": MODEL})
    shutil.rmtree(services.settings.seed_cache_path / "blobs")
    fleet.registry.served.reset()
    one = httpx.post(
        f"{gateway}/api/pull",
        json={"model": MODEL, "stream": False},
        headers={"X-Ollama-Servers": server.name},
        timeout=60,
    )
    assert one.json() == {"status": "success"}
    assert fleet.registry.served.total == size
    assert tags(first.url).get(MODEL) == registry_digest(fleet)
    assert not [name for name in tags(first.url) if "/" in name]
