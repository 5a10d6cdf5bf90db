"""The OpenAI Python client against the emulator's ``/v1`` endpoints."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest
from sim_nodes import Node


@pytest.fixture
def client(node: Node) -> openai.OpenAI:
    return openai.OpenAI(base_url=node.url + "/v1", api_key="x", max_retries=0)


def test_chat_completion_non_stream(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="llama3.2", messages=[{"role": "user", "content": "hello"}]
    )
    assert reply.object == "chat.completion"
    assert reply.model == "llama3.2"
    assert reply.id.startswith("chatcmpl-")
    assert reply.system_fingerprint == "fp_ollama"
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == (
        reply.usage.prompt_tokens + reply.usage.completion_tokens
    )


def test_chat_completion_stream_with_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="llama3.2",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=3,
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3
    assert len({c.created for c in chunks}) == 1


def test_completions_stream_and_not(client: openai.OpenAI) -> None:
    whole = client.completions.create(model="llama3.2", prompt="Say hi")
    assert whole.object == "text_completion"
    assert whole.choices[0].text
    parts = list(
        client.completions.create(model="llama3.2", prompt="Say hi", stream=True)
    )
    assert "".join(p.choices[0].text for p in parts) == whole.choices[0].text
    assert [p.choices[0].finish_reason for p in parts][-1] == "stop"


def test_embeddings_float_and_base64(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="all-minilm", input=["a", "b"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 384
    assert result.model == "all-minilm"
    raw = client.embeddings.create(
        model="all-minilm", input="a", encoding_format="base64"
    )
    packed = raw.data[0].embedding
    assert isinstance(packed, str)  # asked for explicitly: left undecoded
    floats = struct.unpack("<384f", base64.b64decode(packed))
    assert abs(floats[0] - result.data[0].embedding[0]) < 1e-6


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert set(ids) == {"llama3.2:latest", "all-minilm:latest"}
    model = client.models.retrieve("llama3.2")
    assert (model.id, model.owned_by, model.object) == ("llama3.2", "library", "model")


def test_missing_model_is_a_not_found_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 404
    assert caught.value.body == {
        "message": "model 'nope' not found",
        "type": "not_found_error",
        "param": None,
        "code": None,
    }
    with pytest.raises(openai.NotFoundError) as retrieve:
        client.models.retrieve("nope")
    assert "model 'nope:latest' not found" in str(retrieve.value)


def test_empty_messages_and_bad_encoding_are_invalid_requests(
    http: httpx.Client,
) -> None:
    empty = http.post(
        "/v1/chat/completions", json={"model": "llama3.2", "messages": []}
    )
    assert empty.status_code == 400
    assert empty.json()["error"]["message"] == "[] is too short - 'messages'"
    assert empty.json()["error"]["type"] == "invalid_request_error"
    bad = http.post(
        "/v1/embeddings",
        json={"model": "all-minilm", "input": "x", "encoding_format": "hex"},
    )
    assert bad.json()["error"]["message"] == (
        "Invalid value for 'encoding_format' = hex. Supported values: ['float', 'base64']."
    )


def test_stream_ends_with_done_marker(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions",
        json={
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "x"}],
            "stream": True,
        },
    )
    assert response.headers["content-type"] == "text/event-stream"
    assert response.content.endswith(b"data: [DONE]\n\n")


def test_errors_keep_the_openai_shape_for_capabilities_and_faults(
    http: httpx.Client, node: Node
) -> None:
    message = [{"role": "user", "content": "x"}]
    reply = http.post(
        "/v1/chat/completions", json={"model": "all-minilm", "messages": message}
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == '"all-minilm" does not support chat'
    node.state.faults.status = 503
    busy = http.post(
        "/v1/chat/completions", json={"model": "llama3.2", "messages": message}
    )
    assert busy.status_code == 503
    assert busy.json()["error"]["type"] == "api_error"
