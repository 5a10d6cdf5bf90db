"""Every client method against the emulator, in-process (WSGI) and over a socket."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from ollama_webmgr.errors import (
    OllamaBadRequest,
    OllamaNotFound,
    OllamaServerError,
    OllamaStreamError,
    OllamaUnreachable,
)
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.ollama.payloads import ChatMessage
from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.sim.state import SimState

INSTALLED = ("llama3.2:latest", "all-minilm:latest")


@dataclass
class Node:
    state: SimState
    client: OllamaClient


@contextmanager
def _node(kind: str) -> Iterator[Node]:
    state = SimState.with_models(list(INSTALLED), bandwidth=10e9, token_delay=0.0005)
    app = create_app(state)
    if kind == "wsgi":
        transport = httpx.WSGITransport(app=app)
        with OllamaClient("http://sim:11434", transport=transport) as client:
            yield Node(state, client)
    else:
        with serve_in_thread(app) as server, OllamaClient(server.url) as client:
            yield Node(state, client)


@pytest.fixture(params=["wsgi", "socket"])
def node(request: pytest.FixtureRequest) -> Iterator[Node]:
    with _node(request.param) as running:
        yield running


@pytest.fixture
def socket_node() -> Iterator[Node]:
    with _node("socket") as running:
        yield running


def test_liveness_and_version(node: Node) -> None:
    node.client.heartbeat()

    assert node.client.is_up()
    assert node.client.version() == node.state.version


def test_tags_lists_installed_models_with_details(node: Node) -> None:
    tags = {tag.model: tag for tag in node.client.tags()}

    assert set(tags) == set(INSTALLED)
    llama = tags["llama3.2:latest"]
    assert len(llama.digest) == 64
    assert llama.modified_at is not None
    assert llama.modified_at.utcoffset() is not None
    assert llama.details.family == "llama"
    assert llama.details.parameter_size == "3.2B"
    assert "completion" in llama.capabilities
    assert tags["all-minilm:latest"].capabilities == ("embedding",)


def test_show_and_show_of_a_missing_model(node: Node) -> None:
    info = node.client.show("llama3.2")

    assert info.details.family == "llama"
    assert info.context_length == 131072
    assert "completion" in info.capabilities
    assert info.modified_at is not None
    with pytest.raises(OllamaNotFound, match="model 'nope:latest' not found"):
        node.client.show("nope")


def test_pull_streams_progress_then_the_model_is_listed(node: Node) -> None:
    progress = list(node.client.pull("qwen2.5:0.5b"))

    statuses = [p.status for p in progress]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = [p for p in progress if p.layer is not None]
    assert layers
    assert all(p.status == f"pulling {p.layer}" for p in layers)
    assert "qwen2.5:0.5b" in {tag.model for tag in node.client.tags()}


def test_pull_of_an_unknown_model_raises_the_stream_error(node: Node) -> None:
    with pytest.raises(OllamaStreamError, match="file does not exist") as caught:
        list(node.client.pull("no-such-model:1b"))

    assert caught.value.status == -1


def test_copy_then_delete(node: Node) -> None:
    node.client.copy("llama3.2", "mon-llama:v1")
    digests = {tag.model: tag.digest for tag in node.client.tags()}
    assert digests["mon-llama:v1"] == digests["llama3.2:latest"]

    node.client.delete("mon-llama:v1")

    assert "mon-llama:v1" not in {tag.model for tag in node.client.tags()}
    with pytest.raises(OllamaNotFound, match="model 'mon-llama:v1' not found"):
        node.client.delete("mon-llama:v1")
    with pytest.raises(OllamaNotFound, match='model "ghost" not found'):
        node.client.copy("ghost", "other")


def test_load_shows_in_ps_and_unload_removes_it(node: Node) -> None:
    assert node.client.ps() == []

    loaded = node.client.load("llama3.2", keep_alive="10m")
    (running,) = node.client.ps()
    unloaded = node.client.unload("llama3.2")

    assert loaded.done_reason == "load"
    assert running.model == "llama3.2:latest"
    assert running.expires_at is not None
    assert running.size > 0
    assert unloaded.done_reason == "unload"
    assert node.client.ps() == []


def test_generate_whole_and_streamed(node: Node) -> None:
    whole = node.client.generate("llama3.2", "Bonjour")
    chunks = list(node.client.generate_stream("llama3.2", "Bonjour"))

    assert whole.done
    assert whole.done_reason in {"stop", "length"}
    assert whole.response
    assert whole.metrics.eval_count > 0
    assert len(chunks) > 1
    assert not chunks[0].done
    assert chunks[-1].done
    assert "".join(c.response for c in chunks) == whole.response


def test_chat_whole_and_streamed(node: Node) -> None:
    messages = [ChatMessage("user", "Salut")]
    whole = node.client.chat("llama3.2", messages)
    chunks = list(node.client.chat_stream("llama3.2", messages))

    assert whole.message.role == "assistant"
    assert whole.message.content
    assert chunks[-1].done
    assert "".join(c.message.content for c in chunks) == whole.message.content


def test_generation_on_a_missing_model_is_not_found(node: Node) -> None:
    with pytest.raises(OllamaNotFound, match="model 'absent' not found"):
        node.client.generate("absent", "x")
    with pytest.raises(OllamaNotFound):
        list(node.client.chat_stream("absent", [{"role": "user", "content": "x"}]))


def test_embed_returns_normalised_vectors(node: Node) -> None:
    vectors = node.client.embed("all-minilm", ["un", "deux"])
    short = node.client.embed("all-minilm", "un", dimensions=8)

    assert len(vectors) == 2
    assert math.isclose(math.fsum(x * x for x in vectors[0]), 1.0, rel_tol=1e-6)
    assert len(short[0]) == 8


def test_generate_on_an_embedding_model_is_a_bad_request(node: Node) -> None:
    with pytest.raises(OllamaBadRequest, match="does not support generate"):
        node.client.generate("all-minilm", "x")


def test_busy_node_answers_503_and_is_not_retried(node: Node) -> None:
    node.state.faults.update({"status": 503})

    with pytest.raises(OllamaServerError, match="server busy") as caught:
        node.client.tags()

    assert caught.value.status == 503
    assert node.client.is_up() is False


def test_malformed_line_from_the_node_is_a_stream_error(node: Node) -> None:
    node.state.faults.update({"malformed_after": 1})

    with pytest.raises(OllamaStreamError, match="not JSON"):
        list(node.client.pull("qwen2.5:0.5b"))


def test_dropped_connection_mid_stream_is_unreachable(socket_node: Node) -> None:
    socket_node.state.faults.update({"drop_after": 2})
    received: list[str] = []

    with pytest.raises(OllamaUnreachable):
        received.extend(p.status for p in socket_node.client.pull("qwen2.5:0.5b"))

    assert len(received) == 2
    assert received[0] == "pulling manifest"


def test_stopping_a_generation_early_leaves_the_client_usable(
    socket_node: Node,
) -> None:
    socket_node.state.token_delay = 0.01
    for chunk in socket_node.client.generate_stream("llama3.2", "Raconte une histoire"):
        if chunk.response:
            break

    assert socket_node.client.version() == socket_node.state.version
