"""The agent's model port: a node's own models over the registry protocol.

A real socket over an emulated node's data directory (the emulator writes
Ollama's own layout), asked as a node pulling from it asks, and attacked:
only the manifests of registry models and the blobs they list come out.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ollama_webmgr.agent.live import live_readers
from ollama_webmgr.agent.model_port import ModelPort, serve_models
from ollama_webmgr.agent.server import create_server
from ollama_webmgr.errors import AgentUnavailable
from ollama_webmgr.sim.catalog import Registry
from ollama_webmgr.sim.state import SimState

MODEL = "all-minilm:latest"
OTHER = "smollm2:135m"


@pytest.fixture
def node(tmp_path: Path) -> SimState:
    return SimState.with_models(
        [MODEL, OTHER], Registry(scale=0.001), models_dir=tmp_path / "models"
    )


@pytest.fixture
def port(node: SimState) -> Iterator[ModelPort]:
    running = serve_models("127.0.0.1", 0, str(node.models_dir))
    try:
        yield running
    finally:
        running.stop()


def base(port: ModelPort) -> str:
    return f"http://127.0.0.1:{port.port}"


def manifest_file(node: SimState, name: str) -> Path:
    assert node.models_dir is not None
    return (
        node.models_dir
        / "manifests/registry.ollama.ai/library"
        / name.replace(":", "/")
    )


def listed(node: SimState, name: str) -> list[str]:
    body = json.loads(manifest_file(node, name).read_bytes())
    return [item["digest"] for item in [*body["layers"], body["config"]]]


def raw_get(port: ModelPort, target: str) -> int:
    """The status of a GET of ``target`` sent as is (no client normalises it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port.port, timeout=5)
    try:
        connection.request("GET", target)
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_manifest_is_the_files_bytes_with_their_digest(
    node: SimState, port: ModelPort
) -> None:
    assert httpx.get(f"{base(port)}/v2/").json() == {}
    expected = manifest_file(node, MODEL).read_bytes()
    answer = httpx.get(f"{base(port)}/v2/library/all-minilm/manifests/latest")
    assert answer.status_code == 200
    assert answer.content == expected
    digest = f"sha256:{hashlib.sha256(expected).hexdigest()}"
    assert answer.headers["Docker-Content-Digest"] == digest
    head = httpx.head(f"{base(port)}/v2/library/all-minilm/manifests/latest")
    assert head.status_code == 200
    assert head.content == b""
    # Ollama's names are case-insensitive
    shouted = httpx.get(f"{base(port)}/v2/Library/ALL-MINILM/manifests/Latest")
    assert shouted.content == expected


def test_blobs_answer_head_ranges_and_the_direct_url(
    node: SimState, port: ModelPort
) -> None:
    digest = listed(node, MODEL)[0]
    assert node.models_dir is not None
    data = (node.models_dir / "blobs" / digest.replace(":", "-")).read_bytes()
    url = f"{base(port)}/v2/library/all-minilm/blobs/{digest}"
    head = httpx.head(url)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(data)
    assert head.headers["Docker-Content-Digest"] == digest
    ranged = httpx.get(url, headers={"Range": "bytes=2-9"})
    assert ranged.status_code == 206
    assert ranged.headers["Content-Range"] == f"bytes 2-9/{len(data)}"
    assert ranged.content == data[2:10]
    whole = httpx.get(url)
    assert whole.status_code == 200
    assert whole.headers["Location"] == url
    assert whole.content == data


def test_only_blobs_a_manifest_of_that_model_lists_come_out(
    node: SimState, port: ModelPort
) -> None:
    assert node.models_dir is not None
    # a file in blobs/ that no manifest lists
    stray = b"not a model file"
    stray_digest = f"sha256:{hashlib.sha256(stray).hexdigest()}"
    (node.models_dir / "blobs" / stray_digest.replace(":", "-")).write_bytes(stray)
    answer = httpx.get(f"{base(port)}/v2/library/all-minilm/blobs/{stray_digest}")
    assert answer.status_code == 404
    assert answer.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    # a blob of another model, asked through this one
    theirs = next(d for d in listed(node, OTHER) if d not in listed(node, MODEL))
    through = httpx.head(f"{base(port)}/v2/library/all-minilm/blobs/{theirs}")
    assert through.status_code == 404
    assert httpx.head(f"{base(port)}/v2/library/smollm2/blobs/{theirs}").is_success
    # a model this node does not have
    missing = httpx.get(f"{base(port)}/v2/library/llama3/manifests/latest")
    assert missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_path_traversal_names_nothing(
    node: SimState, port: ModelPort, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text('{"config": {"digest": "x", "size": 1}, "layers": []}')
    assert node.models_dir is not None
    # a symbolic link planted among the manifests is not followed
    link = node.models_dir / "manifests/registry.ollama.ai/library/all-minilm/evil"
    os.symlink(secret, link)
    for target in [
        "/v2/library/all-minilm/manifests/evil",
        "/v2/../../secret",
        "/v2/library/all-minilm/manifests/../../../../../secret",
        "/v2/library/all-minilm/manifests/..%2f..%2f..%2f..%2f..%2fsecret",
        "/v2/%2e%2e/%2e%2e/manifests/secret",
        "/v2/library/../manifests/latest",
        "/v2/../all-minilm/manifests/latest",
        "/v2/library/all-minilm/manifests/%2e%2e",
        "/v2/library/all-minilm/manifests/.",
        "/v2/library/all-minilm/blobs/sha256-" + "0" * 64,
        "/v2/library/all-minilm/blobs/../../../secret",
        "/etc/passwd",
        "/v2/library/all-minilm/manifests/latest%00",
    ]:
        assert raw_get(port, target) == 404, target


def test_the_media_type_is_the_registry_clients() -> None:
    from ollama_webmgr.ollama.registry import MANIFEST_ACCEPT
    from ollama_webmgr.ollama.registry_answers import MANIFEST_MEDIA_TYPE

    assert MANIFEST_MEDIA_TYPE == MANIFEST_ACCEPT


def test_nothing_but_reads(port: ModelPort) -> None:
    url = f"{base(port)}/v2/library/all-minilm/manifests/latest"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert httpx.request(method, url).status_code == 405


def test_a_busy_port_is_a_clear_error(port: ModelPort, node: SimState) -> None:
    with pytest.raises(AgentUnavailable, match="cannot serve the models"):
        serve_models("127.0.0.1", port.port, str(node.models_dir))


def test_the_agent_reports_its_model_port(port: ModelPort, node: SimState) -> None:
    from ollama_webmgr.agent.client import AgentClient

    server, bound = create_server(
        "127.0.0.1",
        0,
        models_dir=str(node.models_dir),
        readers=live_readers(str(node.models_dir), models_port=port.port),
    )
    try:
        with AgentClient(f"127.0.0.1:{bound}") as client:
            assert client.get_system_info(details=False).system.models_port == (
                port.port
            )
    finally:
        server.stop(grace=0).wait()
