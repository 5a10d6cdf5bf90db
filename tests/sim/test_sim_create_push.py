"""``/api/create``, ``/api/push`` and CORS of the emulated node, with the official
client where it can be used."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest
from sim_nodes import Node


def _lines(response: httpx.Response) -> list[dict[str, object]]:
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in response.content.splitlines()]


def test_create_from_an_installed_model_adds_a_system_layer(node: Node) -> None:
    client = ollama.Client(host=node.url)
    statuses = [
        p.status
        for p in client.create(
            model="Mario", from_="llama3.2", system="You are Mario.", stream=True
        )
    ]
    base = node.state.find("llama3.2")
    assert base is not None
    # Ollama's createModel: the base layers, the new system layer appended, then
    # the params layer written again last (same bytes: the existing blob)
    params = [ly for ly in base.layers() if ly.media_type.endswith(".params")]
    kept = [ly for ly in base.layers() if ly not in params]
    assert statuses[: len(kept)] == [f"using existing layer {ly.digest}" for ly in kept]
    assert statuses[len(kept)].startswith("creating new layer sha256:")
    assert statuses[len(kept) + 1 :] == [
        f"using existing layer {params[0].digest}",
        "writing manifest",
        "success",
    ]
    created = node.state.find("mario")
    assert created is not None
    assert created.name.display == "Mario:latest"
    assert created.digest != base.digest
    listed = {m.model: m.digest for m in client.list().models}
    assert listed["Mario:latest"] == created.digest
    assert client.show("mario").details.family == "llama"
    again = client.create(model="mario", from_="llama3.2", system="You are Mario.")
    assert again.status == "success"
    assert node.state.find("mario").name.display == "Mario:latest"  # casing kept


def test_create_from_a_missing_model_pulls_it_first(node: Node) -> None:
    with node.http() as http:
        response = http.post(
            "/api/create", json={"model": "tiny", "from": "smollm2:135m"}
        )
    statuses = [line.get("status") for line in _lines(response)]
    assert statuses[0] == "pulling manifest"
    assert "verifying sha256 digest" in statuses
    assert statuses[-2:] == ["writing manifest", "success"]
    assert node.state.find("smollm2:135m") is not None
    assert node.state.find("tiny") is not None


def test_create_errors_before_the_stream_have_a_status(node: Node) -> None:
    with node.http() as http:
        neither = http.post("/api/create", json={"model": "x"})
        bad_name = http.post("/api/create", json={"model": "a b", "from": "llama3.2"})
        empty = http.post("/api/create", content=b"")
        unknown = http.post("/api/create", json={"model": "x", "from": "nope:1b"})
        unknown_once = http.post(
            "/api/create", json={"model": "x", "from": "nope:1b", "stream": False}
        )
    assert (neither.status_code, neither.json()) == (
        400,
        {"error": "neither 'from' or 'files' was specified"},
    )
    assert (bad_name.status_code, bad_name.json()) == (
        400,
        {"error": "invalid model name"},
    )
    assert (empty.status_code, empty.json()) == (
        400,
        {"error": "missing request body"},
    )
    assert _lines(unknown) == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]
    assert unknown_once.status_code == 500
    with pytest.raises(ollama.ResponseError) as raised:
        ollama.Client(host=node.url).create(model="x")
    assert raised.value.status_code == 400


def test_create_from_files_needs_the_blobs_on_this_node(node: Node) -> None:
    base = node.state.find("llama3.2")
    assert base is not None
    weights = base.catalog.weights.digest
    missing = "sha256:" + "0" * 64
    with node.http() as http:
        made = http.post(
            "/api/create",
            json={"model": "copy", "files": {"model.gguf": weights}, "stream": False},
        )
        absent = http.post(
            "/api/create", json={"model": "copy2", "files": {"model": missing}}
        )
        absent_gguf = http.post(
            "/api/create", json={"model": "copy2", "files": {"m.gguf": missing}}
        )
    assert (made.status_code, made.json()) == (200, {"status": "success"})
    # no extension and no blob to sniff: Ollama cannot tell the type
    assert (absent.status_code, absent.json()) == (400, {"error": "unknown type"})
    assert _lines(absent_gguf) == [
        {"status": "parsing GGUF"},
        {
            "error": f"open /root/.ollama/models/blobs/sha256-{'0' * 64}:"
            " no such file or directory"
        },
    ]


def test_push_streams_layer_progress_and_success(node: Node) -> None:
    client = ollama.Client(host=node.url)
    client.copy("llama3.2", "alice/llama")
    progress = list(client.push("alice/llama", stream=True))
    assert progress[0].status == "retrieving manifest"
    pushing = [p for p in progress if p.status.startswith("pushing ") and p.digest]
    model = node.state.find("alice/llama")
    assert model is not None
    assert {p.digest for p in pushing} == model.blob_digests()
    assert all(p.completed == p.total for p in pushing[1::2])
    assert [p.status for p in progress[-2:]] == ["pushing manifest", "success"]
    assert client.push("alice/llama").status == "success"


def test_push_of_a_missing_model_fails_after_retrieving_the_manifest(
    node: Node,
) -> None:
    with node.http() as http:
        streamed = http.post("/api/push", json={"model": "nope"})
        once = http.post("/api/push", json={"model": "nope", "stream": False})
        nameless = http.post("/api/push", json={})
    path = "/root/.ollama/models/manifests/registry.ollama.ai/library/nope/latest"
    assert _lines(streamed) == [
        {"status": "retrieving manifest"},
        {"status": "couldn't retrieve manifest"},
        {"error": f"open {path}: no such file or directory"},
    ]
    assert once.status_code == 500
    assert (nameless.status_code, nameless.json()) == (
        400,
        {"error": "model is required"},
    )


def test_cors_follows_ollamas_origins(node: Node) -> None:
    with node.http() as http:
        local = http.get("/api/tags", headers={"Origin": "http://localhost:3000"})
        foreign = http.get("/api/tags", headers={"Origin": "https://x.example"})
        preflight = http.options(
            "/api/chat", headers={"Origin": "vscode-webview://abc"}
        )
        node.state.origins = ("https://*.example",)
        allowed = http.get("/api/tags", headers={"Origin": "https://x.example"})
    assert local.status_code == 200
    assert local.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert (foreign.status_code, foreign.content) == (403, b"")
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == (
        "GET,POST,PUT,PATCH,DELETE,HEAD"
    )
    assert allowed.headers["access-control-allow-origin"] == "https://x.example"
