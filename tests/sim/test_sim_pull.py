"""``POST /api/pull``: status sequence, cadence, resume, sharing, pruning."""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
from sim_nodes import Node

from ollama_webmgr.sim.catalog import Registry

NodeFactory = Callable[..., AbstractContextManager[Node]]


def _weights_size(model: str) -> int:
    """The weights blob's size: the catalogue is scaled, so tests ask for it."""
    entry = Registry().lookup(model)
    assert entry is not None
    return entry.weights.size


MINILM = _weights_size("all-minilm")  # "46 MB" in the library
SMOLLM = _weights_size("smollm2:135m")  # "271 MB" in the library


def _lines(client: httpx.Client, model: str) -> list[dict[str, object]]:
    response = client.post("/api/pull", json={"model": model})
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.content.splitlines()]


def test_unknown_model_streams_manifest_then_error(http: httpx.Client) -> None:
    response = http.post("/api/pull", json={"model": "no-such-model:7b"})
    assert response.status_code == 200
    assert response.content == (
        b'{"status":"pulling manifest"}\n'
        b'{"error":"pull model manifest: file does not exist"}\n'
    )


def test_non_streamed_pull_answers_success_as_plain_json(http: httpx.Client) -> None:
    response = http.post("/api/pull", json={"name": "smollm2:135m", "stream": False})
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"status":"success"}'


def test_repull_reports_each_blob_once_config_last_and_bumps_modified_at(
    http: httpx.Client, node: Node
) -> None:
    before = http.get("/api/tags").json()["models"]
    lines = _lines(http, "all-minilm")
    entry = node.state.registry.lookup("all-minilm")
    assert entry is not None
    blobs = [*entry.layers(), entry.config]
    assert lines[0] == {"status": "pulling manifest"}
    progress = lines[1:-3]
    assert [line["digest"] for line in progress] == [blob.digest for blob in blobs]
    for line, blob in zip(progress, blobs, strict=True):
        assert line["status"] == f"pulling {blob.digest[7:19]}"
        assert line["total"] == line["completed"] == blob.size
    assert [line["status"] for line in lines[-3:]] == [
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]
    after = http.get("/api/tags").json()["models"]
    assert after[0]["name"] == "all-minilm:latest"
    old = next(m for m in before if m["name"] == "all-minilm:latest")
    assert after[0]["modified_at"] > old["modified_at"]
    assert after[0]["digest"] == old["digest"]


def test_progress_ticks_every_60ms_while_downloading(make_node: NodeFactory) -> None:
    with make_node(models=(), bandwidth=MINILM / 0.46) as node, node.http() as client:
        stamps: list[float] = []
        completed: list[int] = []
        with client.stream("POST", "/api/pull", json={"model": "all-minilm"}) as reply:
            for raw in reply.iter_lines():
                line = json.loads(raw)
                if line.get("total") == MINILM:
                    stamps.append(time.monotonic())
                    completed.append(int(line.get("completed", 0)))
        assert len(stamps) >= 5  # the weights at their bandwidth: ~0.46 s
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        assert 0.045 < statistics.median(gaps) < 0.09, gaps
        assert completed == sorted(completed)
        assert completed[-1] <= MINILM
        assert "all-minilm:latest" in [
            m["name"] for m in client.get("/api/tags").json()["models"]
        ]


def _wait_idle(node: Node) -> None:
    deadline = time.monotonic() + 3
    while node.state.downloads and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not node.state.downloads


def test_disconnect_stops_the_download_and_next_pull_resumes(
    make_node: NodeFactory,
) -> None:
    with make_node(models=(), bandwidth=SMOLLM / 5.4) as node, node.http() as client:
        seen = 0
        with client.stream(
            "POST", "/api/pull", json={"model": "smollm2:135m"}
        ) as reply:
            for raw in reply.iter_lines():
                seen = max(seen, int(json.loads(raw).get("completed", 0)))
                if seen > SMOLLM // 27:
                    break
        _wait_idle(node)
        kept = next(iter(node.state.partial.values()))
        assert seen <= kept < SMOLLM
        tags = client.get("/api/tags").json()["models"]
        assert tags == []  # no manifest for an interrupted pull
        with client.stream(
            "POST", "/api/pull", json={"model": "smollm2:135m"}
        ) as reply:
            lines = reply.iter_lines()
            assert json.loads(next(lines)) == {"status": "pulling manifest"}
            first = json.loads(next(lines))
        assert int(first["completed"]) >= kept
        _wait_idle(node)


def test_concurrent_pulls_share_one_download(make_node: NodeFactory) -> None:
    with make_node(models=(), bandwidth=SMOLLM / 5.4) as node:
        first_seen: list[int] = []
        ready = threading.Event()

        def first_pull() -> None:
            with (
                node.http() as client,
                client.stream(
                    "POST", "/api/pull", json={"model": "smollm2:135m"}
                ) as reply,
            ):
                for raw in reply.iter_lines():
                    first_seen.append(int(json.loads(raw).get("completed", 0)))
                    if first_seen[-1] > SMOLLM // 54:
                        ready.set()
                    if first_seen[-1] > SMOLLM // 13:
                        break

        thread = threading.Thread(target=first_pull)
        thread.start()
        assert ready.wait(5)
        with (
            node.http() as client,
            client.stream("POST", "/api/pull", json={"model": "smollm2:135m"}) as reply,
        ):
            lines = reply.iter_lines()
            next(lines)
            shared = int(json.loads(next(lines))["completed"])
        thread.join(5)
        assert shared > SMOLLM // 54  # not restarted from zero
        _wait_idle(node)


def test_pulling_an_update_removes_unused_layers(
    http: httpx.Client, node: Node
) -> None:
    old = node.state.registry.lookup("all-minilm")
    assert old is not None
    new = node.state.registry.publish_update("all-minilm")
    statuses = [line.get("status") for line in _lines(http, "all-minilm")]
    assert statuses[-4:] == [
        "verifying sha256 digest",
        "writing manifest",
        "removing unused layers",
        "success",
    ]
    assert old.weights.digest not in node.state.blobs
    assert new.weights.digest in node.state.blobs
    tags = {m["name"]: m["digest"] for m in http.get("/api/tags").json()["models"]}
    assert tags["all-minilm:latest"] == new.digest != old.digest


def test_delete_prunes_blobs_unless_another_manifest_uses_them(
    http: httpx.Client, node: Node
) -> None:
    entry = node.state.registry.lookup("all-minilm")
    assert entry is not None
    http.post("/api/copy", json={"source": "all-minilm", "destination": "copy"})
    http.request("DELETE", "/api/delete", json={"model": "all-minilm"})
    assert entry.weights.digest in node.state.blobs
    http.request("DELETE", "/api/delete", json={"model": "copy"})
    assert entry.weights.digest not in node.state.blobs


def test_completed_is_omitted_while_zero(make_node: NodeFactory) -> None:
    with make_node(models=(), bandwidth=1.0) as node, node.http() as client:
        with client.stream("POST", "/api/pull", json={"model": "all-minilm"}) as reply:
            lines = reply.iter_lines()
            next(lines)
            first = json.loads(next(lines))
        assert first == {
            "status": first["status"],
            "digest": first["digest"],
            "total": MINILM,
        }
        _wait_idle(node)
