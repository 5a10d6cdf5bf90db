"""A pull moves real bytes from the fake registry: counted, verified, stored
as Ollama stores them, resumed after a drop; the registry's fault knobs."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fleet_support import closed_port_url
from ollama_webmgr.sim.blobstore import split
from ollama_webmgr.sim.catalog import CatalogModel, Registry
from ollama_webmgr.sim.downloading import (
    MIN_PART_SIZE,
    NUM_PARTS,
    Download,
    _fetch_part,
)
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.library import create_library_app
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.sim.state import SimState
from waiting import wait_until

MODEL = "qwen2.5:0.5b"  # weights in 2 parts on the wire (the catalogue is scaled)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[EmulatedFleet]:
    """One node with nothing installed, keeping its files in ``tmp_path``."""
    with running_fleet(
        [()], state_files=[tmp_path / "node.json"], bandwidth=10e9, retry_delay=0.05
    ) as running:
        yield running


def _entry(registry: Registry, name: str = MODEL) -> CatalogModel:
    entry = registry.lookup(name)
    assert entry is not None
    return entry


def _pull(url: str, body: dict[str, object]) -> list[dict[str, object]]:
    reply = httpx.post(f"{url}/api/pull", json=body, timeout=30)
    assert reply.status_code == 200
    return [json.loads(line) for line in reply.text.splitlines()]


def _blob_sizes(entry: CatalogModel) -> dict[str, int]:
    return {layer.digest: layer.size for layer in [*entry.layers(), entry.config]}


def test_a_pull_moves_each_byte_of_the_model_once(fleet: EmulatedFleet) -> None:
    node = fleet.nodes[0]
    entry = _entry(fleet.registry)
    lines = _pull(node.url, {"model": MODEL})
    assert lines[-1] == {"status": "success"}
    served = fleet.registry.served.as_json()
    assert served["total"] == entry.size  # the model's size, no byte twice
    assert served["by_digest"] == _blob_sizes(entry)
    manifest = httpx.get(
        f"{fleet.library_url}/v2/library/qwen2.5/manifests/0.5b"
    ).content
    [tag] = httpx.get(f"{node.url}/api/tags").json()["models"]
    assert tag["digest"] == hashlib.sha256(manifest).hexdigest() == entry.digest
    assert tag["size"] == entry.size


def test_the_node_keeps_ollamas_layout_in_its_data_directory(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    entry = _entry(fleet.registry)
    _pull(fleet.nodes[0].url, {"model": MODEL})
    models = tmp_path / "node" / "models"
    manifest = models / "manifests/registry.ollama.ai/library/qwen2.5/0.5b"
    assert manifest.read_bytes() == entry.manifest_bytes()
    for digest, size in _blob_sizes(entry).items():
        blob = models / "blobs" / digest.replace(":", "-")
        data = blob.read_bytes()
        assert len(data) == size
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    assert not list((models / "blobs").glob("*-partial*"))


def test_installed_models_have_their_files_too(tmp_path: Path) -> None:
    state = SimState.with_models(["all-minilm"], state_file=tmp_path / "n.json")
    entry = _entry(state.registry, "all-minilm")
    blobs = tmp_path / "n" / "models" / "blobs"
    for digest in _blob_sizes(entry):
        data = (blobs / digest.replace(":", "-")).read_bytes()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest


def test_a_dropped_connection_resumes_and_fetches_only_the_rest(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    entry = _entry(fleet.registry)
    weights = entry.weights
    fleet.registry.faults.drop_after = weights.size // 3
    lines = _pull(fleet.nodes[0].url, {"model": MODEL})
    assert lines[-1] == {"status": "success"}
    assert fleet.registry.faults.drop_after is None  # the drop happened
    assert fleet.registry.served.of(weights.digest) == weights.size
    assert fleet.registry.served.total == entry.size


def test_a_new_pull_resumes_the_parts_a_cancelled_one_kept(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    node = fleet.nodes[0]
    entry = _entry(fleet.registry)
    weights = entry.weights
    fleet.registry.faults.slow = weights.size / 1.5
    with (
        httpx.Client(base_url=node.url, timeout=10) as client,
        client.stream("POST", "/api/pull", json={"model": MODEL}) as reply,
    ):
        for raw in reply.iter_lines():
            if int(json.loads(raw).get("completed", 0)) > weights.size // 3:
                break
    wait_until(lambda: not node.state.downloads, what="the download to stop")
    kept = node.state.partial[weights.digest]
    parts = list((tmp_path / "node/models/blobs").glob("*-partial-*"))
    assert len(parts) == 2  # Ollama's part files, one per part
    assert weights.size // 3 < kept < weights.size
    fleet.registry.faults.slow = None
    node.state.bandwidth = weights.size / 0.5  # slow enough to report progress
    lines = _pull(node.url, {"model": MODEL})
    assert lines[-1] == {"status": "success"}
    resumed = next(line for line in lines if line.get("digest") == weights.digest)
    assert int(resumed["completed"]) >= kept  # progress starts where it stopped
    # what was in flight when the client left is the only byte served twice
    assert fleet.registry.served.of(weights.digest) <= weights.size * 1.05


def test_a_wrong_digest_ends_the_pull_with_ollamas_error(
    fleet: EmulatedFleet, tmp_path: Path
) -> None:
    entry = _entry(fleet.registry)
    fleet.registry.faults.corrupt = True
    lines = _pull(fleet.nodes[0].url, {"model": MODEL})
    error = str(lines[-1]["error"])
    first = next(iter(_blob_sizes(entry)))
    assert error.startswith(
        f"digest mismatch, file must be downloaded again: want {first}, got sha256:"
    )
    assert lines[-2] == {"status": "verifying sha256 digest"}
    assert httpx.get(f"{fleet.nodes[0].url}/api/tags").json()["models"] == []
    blob = tmp_path / "node/models/blobs" / first.replace(":", "-")
    assert not blob.exists()  # deleted, as Ollama does


def _pull_in_thread(url: str, body: dict[str, object]) -> tuple[threading.Thread, list]:
    out: list[list[dict[str, object]]] = []
    thread = threading.Thread(target=lambda: out.append(_pull(url, body)))
    thread.start()
    return thread, out


def test_a_stall_holds_every_byte_until_released(fleet: EmulatedFleet) -> None:
    faults = fleet.registry.faults
    faults.stall_all = True  # a stall holds its connection only, by default
    faults.stall_after = 100_000
    thread, out = _pull_in_thread(fleet.nodes[0].url, {"model": MODEL})
    wait_until(lambda: fleet.registry.served.total == 100_000, what="the stall")
    time.sleep(0.3)  # a stall is the absence of bytes: give them time to come
    assert fleet.registry.served.total == 100_000
    assert faults.as_json()["stalled"]
    faults.release()
    thread.join(10)
    assert out[0][-1] == {"status": "success"}
    assert fleet.registry.served.total == _entry(fleet.registry).size


def test_a_timed_stall_ends_by_itself(fleet: EmulatedFleet) -> None:
    fleet.registry.faults.update({"stall_after": 0, "stall_for": 0.6})
    started = time.monotonic()
    lines = _pull(fleet.nodes[0].url, {"model": MODEL})
    assert lines[-1] == {"status": "success"}
    assert time.monotonic() - started >= 0.6


def test_a_slow_registry_paces_its_bytes(fleet: EmulatedFleet) -> None:
    size = _entry(fleet.registry).size
    fleet.registry.faults.slow = size / 0.8
    started = time.monotonic()
    _pull(fleet.nodes[0].url, {"model": MODEL})
    assert time.monotonic() - started >= 0.7


def test_the_node_bandwidth_paces_real_bytes(fleet: EmulatedFleet) -> None:
    size = _entry(fleet.registry).size
    fleet.nodes[0].state.bandwidth = size / 0.8
    started = time.monotonic()
    lines = _pull(fleet.nodes[0].url, {"model": MODEL})
    assert time.monotonic() - started >= 0.7
    assert any(line.get("completed") for line in lines[1:-3])  # progress seen
    assert fleet.registry.served.total == size


def test_an_insecure_pull_fetches_from_the_host_the_name_gives(
    fleet: EmulatedFleet,
) -> None:
    other = Registry()
    node = fleet.nodes[0]
    with serve_in_thread(create_library_app(other)) as mirror:
        name = f"127.0.0.1:{mirror.port}/library/all-minilm:latest"
        lines = _pull(node.url, {"model": name, "insecure": True})
        assert lines[-1] == {"status": "success"}
        secure = _pull(node.url, {"model": name})
    assert other.served.total == _entry(other, "all-minilm").size
    assert fleet.registry.served.total == 0
    [tag] = httpx.get(f"{node.url}/api/tags").json()["models"]
    assert tag["name"] == name
    assert str(secure[-1]["error"]).startswith(
        f'pull model manifest: Get "https://127.0.0.1:{mirror.port}/v2/'
    )


def test_the_registry_serves_ranges_of_the_real_bytes(fleet: EmulatedFleet) -> None:
    weights = _entry(fleet.registry).weights
    url = f"{fleet.library_url}/v2/library/qwen2.5/blobs/{weights.digest}"
    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == weights.size
    whole = httpx.get(url).content
    assert "sha256:" + hashlib.sha256(whole).hexdigest() == weights.digest
    part = httpx.get(url, headers={"Range": "bytes=70000-70009"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 70000-70009/{weights.size}"
    assert part.content == whole[70000:70010]
    missing = httpx.get(
        f"{fleet.library_url}/v2/library/qwen2.5/blobs/sha256:{'0' * 64}"
    )
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "BLOB_UNKNOWN"


def test_the_knobs_and_the_counter_answer_over_http(fleet: EmulatedFleet) -> None:
    base = f"{fleet.library_url}/_sim/registry"
    set_knobs = httpx.post(f"{base}/faults", json={"drop_after": 1000, "slow": 5e6})
    assert set_knobs.json()["drop_after"] == 1000
    assert fleet.registry.faults.slow == 5e6
    assert httpx.post(f"{base}/faults", json={"nope": 1}).status_code == 400
    _pull(fleet.nodes[0].url, {"model": "all-minilm"})
    served = httpx.get(f"{base}/served").json()
    assert served["total"] == _entry(fleet.registry, "all-minilm").size
    assert httpx.delete(f"{base}/served").json() == {"total": 0, "by_digest": {}}
    httpx.post(f"{base}/faults", json={"stall_after": 0})
    assert httpx.post(f"{base}/release").json()["stalled"] is False


def _parts_of(size: int) -> list[int]:
    return [part.size for part in split(size, NUM_PARTS, MIN_PART_SIZE)]


def test_a_stuck_connection_stalls_alone_and_its_part_reconnects(
    fleet: EmulatedFleet,
) -> None:
    node = fleet.nodes[0]
    node.state.stall_timeout = 0.3  # Ollama: 30 s
    weights = _entry(fleet.registry).weights
    faults = fleet.registry.faults
    faults.update({"stall_after": weights.size // 3, "stall_for": 30.0})
    lines = _pull(node.url, {"model": MODEL})
    assert lines[-1] == {"status": "success"}
    (stuck,) = faults.stuck
    assert stuck.digest == weights.digest
    # the part reconnected after the node's timeout, long before the stall ends
    assert stuck.resumed is not None
    assert 0.3 <= stuck.resumed - stuck.started < 2.0
    assert stuck.unstuck is None
    assert faults.as_json()["stalled"]
    faults.release()
    wait_until(lambda: stuck.closed is not None, what="the stuck connection to close")
    # the reconnection asked only for what the part lacked
    extra = fleet.registry.served.of(weights.digest) - weights.size
    assert 0 <= extra <= max(_parts_of(weights.size))


def test_a_stuck_connection_goes_on_when_its_stall_ends(fleet: EmulatedFleet) -> None:
    entry = _entry(fleet.registry)
    faults = fleet.registry.faults
    faults.update({"stall_after": 50_000, "stall_for": 0.5})
    started = time.monotonic()
    lines = _pull(fleet.nodes[0].url, {"model": MODEL})  # node timeout: 30 s
    assert lines[-1] == {"status": "success"}
    assert time.monotonic() - started >= 0.5
    (stuck,) = faults.stuck
    assert stuck.resumed is None  # nobody else served its bytes: it went on
    assert fleet.registry.served.total == entry.size


def test_a_client_that_goes_away_stops_a_download_stuck_at_the_registry(
    fleet: EmulatedFleet,
) -> None:
    node = fleet.nodes[0]  # its part timeout is 30 s: it would not reconnect itself
    weights = _entry(fleet.registry).weights
    faults = fleet.registry.faults
    faults.update({"stall_after": weights.size // 3, "stall_for": 30.0})
    with (
        httpx.Client(base_url=node.url, timeout=10) as client,
        client.stream("POST", "/api/pull", json={"model": MODEL}) as reply,
    ):
        lines = reply.iter_lines()
        wait_until(lambda: faults.stuck, what="a stuck connection")
        next(lines)
    left = time.monotonic()
    # the stuck part's socket is cut: not left to the part's 30 s timeout
    wait_until(
        lambda: not node.state.downloads, timeout=1.0, what="the download to stop"
    )
    assert time.monotonic() - left < 1.0
    assert 0 < node.state.partial[weights.digest] < weights.size
    faults.release()


def test_a_stall_that_falls_at_the_end_of_a_response_sticks_the_next_one(
    fleet: EmulatedFleet,
) -> None:
    weights = _entry(fleet.registry).weights
    url = f"{fleet.library_url}/v2/library/qwen2.5/blobs/{weights.digest}"
    faults = fleet.registry.faults
    faults.update({"stall_after": 10, "stall_for": 0.3})
    whole = httpx.get(url, headers={"Range": "bytes=0-9"})
    assert len(whole.content) == 10
    assert faults.stuck == []  # nothing left to send: not a stuck connection
    after = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert len(after.content) == 10
    (stuck,) = faults.stuck
    assert (stuck.digest, stuck.offset) == (weights.digest, 10)
    assert stuck.unstuck is not None
    assert stuck.unstuck - stuck.started >= 0.3


def test_a_blob_host_gone_is_named_in_the_error_as_go_names_it() -> None:
    """Ollama's error after its retries carries Go's ``Get "<url>": …``: the
    seeding jobs tell a node that cannot reach the cache by that address."""
    state = SimState.with_models([], retry_delay=0.01)
    url = f"{closed_port_url()}/v2/library/x/blobs/sha256:{'0' * 64}"
    download = Download(f"sha256:{'0' * 64}", url, 10, parts=split(10, 1, 1))
    state.store.begin(download.digest, 10, download.parts)
    failures: list[str] = []
    _fetch_part(state, download, download.parts[0], failures)
    assert failures == [
        f'max retries exceeded: Get "{url}": [Errno 111] Connection refused'
    ]
