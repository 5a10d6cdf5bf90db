"""Compatibility suite: the official clients through the gateway vs direct.

Three emulated nodes run on real sockets behind the gateway. Every answer the
official ``ollama`` client (and the OpenAI client for ``/v1``) gets through the
gateway must equal the answer of a direct call to a node that has the model,
apart from timings and timestamps.
"""

from __future__ import annotations

from typing import Any

import ollama
import openai
import pytest

VOLATILE = {
    "created_at",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
    "modified_at",
    "expires_at",
}


def same(answer: Any) -> Any:
    data = answer.model_dump() if hasattr(answer, "model_dump") else answer
    if isinstance(data, dict):
        return {k: same(v) for k, v in data.items() if k not in VOLATILE}
    if isinstance(data, list):
        return [same(item) for item in data]
    return data


def test_list_is_the_union_of_the_nodes_lists(sim_fleet):
    listed = sim_fleet.client().list()
    union = {}
    for name in sim_fleet.urls:
        for model in sim_fleet.direct(name).list().models:
            union[model.model] = same(model)
    assert {m.model: same(m) for m in listed.models} == union
    assert len(listed.models) == 3


def test_version_and_heartbeat(sim_fleet):
    import httpx

    assert httpx.head(sim_fleet.url + "/").status_code == 200
    assert httpx.get(sim_fleet.url + "/api/version").json() == {"version": "0.33.0-rc2"}


def test_show_equals_a_direct_show(sim_fleet):
    through = sim_fleet.client().show("qwen2.5:0.5b")
    assert same(through) == same(sim_fleet.direct("n2").show("qwen2.5:0.5b"))


@pytest.mark.parametrize("stream", [False, True])
def test_generate_equals_a_direct_generate(sim_fleet, stream):
    through = sim_fleet.client().generate(
        "llama3.2", "Why is the sky blue?", stream=stream
    )
    direct = sim_fleet.direct("n1").generate(
        "llama3.2", "Why is the sky blue?", stream=stream
    )
    if stream:
        through, direct = list(through), list(direct)
        assert len(through) > 3  # relayed in pieces, not as one block
    assert same(through) == same(direct)


@pytest.mark.parametrize("stream", [False, True])
def test_chat_equals_a_direct_chat(sim_fleet, stream):
    messages = [{"role": "user", "content": "Bonjour"}]
    through = sim_fleet.client().chat("qwen2.5:0.5b", messages, stream=stream)
    direct = sim_fleet.direct("n3").chat("qwen2.5:0.5b", messages, stream=stream)
    if stream:
        through, direct = list(through), list(direct)
        assert len(through) > 3
    assert same(through) == same(direct)


def test_embeddings_equal_direct_ones(sim_fleet):
    client, direct = sim_fleet.client(), sim_fleet.direct("n3")
    assert same(client.embed("all-minilm", ["a", "b"])) == same(
        direct.embed("all-minilm", ["a", "b"])
    )
    assert same(client.embeddings("all-minilm", "a")) == same(
        direct.embeddings("all-minilm", "a")
    )


def test_ps_lists_models_loaded_anywhere(sim_fleet):
    sim_fleet.client().generate("qwen2.5:0.5b", "hi")
    sim_fleet.direct("n1").generate("llama3.2", "hi")
    names = {m.model for m in sim_fleet.client().ps().models}
    assert names == {"qwen2.5:0.5b", "llama3.2:latest"}


ERROR_CALLS = [
    ("generate missing", lambda c: c.generate("smollm2:135m", "hi")),
    (
        "chat missing",
        lambda c: c.chat("smollm2:135m", [{"role": "user", "content": "x"}]),
    ),
    ("embed missing", lambda c: c.embed("smollm2:135m", "x")),
    ("embeddings missing", lambda c: c.embeddings("smollm2:135m", "x")),
    ("show missing", lambda c: c.show("smollm2")),
    ("delete missing", lambda c: c.delete("smollm2:135m")),
    ("copy missing", lambda c: c.copy("smollm2:135m", "x:y")),
    ("invalid name", lambda c: c.generate("bad name!", "hi")),
    (
        "chat without model field",
        lambda c: c._request_raw("POST", "/api/chat", json={}),
    ),
    (
        "malformed body",
        lambda c: c._request_raw("POST", "/api/generate", content=b"{nope"),
    ),
    ("unknown route", lambda c: c._request_raw("GET", "/api/nothing")),
    ("pull unknown", lambda c: list(c.pull("nosuchmodel:1b", stream=True))),
]


@pytest.mark.parametrize(
    ("label", "call"), ERROR_CALLS, ids=[c[0] for c in ERROR_CALLS]
)
def test_errors_equal_direct_errors(sim_fleet, label, call):
    with pytest.raises(ollama.ResponseError) as direct:
        call(sim_fleet.direct("n1"))
    with pytest.raises(ollama.ResponseError) as through:
        call(sim_fleet.client())
    assert (through.value.status_code, through.value.error) == (
        direct.value.status_code,
        direct.value.error,
    )


def test_pull_reaches_every_node_with_one_progress_stream(sim_fleet):
    parts = list(sim_fleet.client().pull("smollm2:135m", stream=True))
    statuses = [p.status for p in parts]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    assert any(p.digest and p.total for p in parts)
    for name in sim_fleet.urls:
        assert "smollm2:135m" in {m.model for m in sim_fleet.direct(name).list().models}
    # routable at once, through the refreshed model map
    assert sim_fleet.client().generate("smollm2:135m", "hi").done


def test_delete_and_copy_apply_on_every_node_that_has_the_model(sim_fleet):
    client = sim_fleet.client()
    assert client.copy("llama3.2", "mine:v1").status == "success"
    having = {
        n
        for n in sim_fleet.urls
        if "mine:v1" in {m.model for m in sim_fleet.direct(n).list().models}
    }
    assert having == {"n1", "n2"}
    assert client.delete("mine:v1").status == "success"
    for name in sim_fleet.urls:
        assert "mine:v1" not in {m.model for m in sim_fleet.direct(name).list().models}


# --- OpenAI client ---------------------------------------------------------------
def test_openai_chat_equals_a_direct_call(sim_fleet):
    messages = [{"role": "user", "content": "Salut"}]
    through = sim_fleet.openai(sim_fleet.url).chat.completions.create(
        model="llama3.2", messages=messages
    )
    direct = sim_fleet.openai(sim_fleet.urls["n2"]).chat.completions.create(
        model="llama3.2", messages=messages
    )
    assert through.choices[0].message == direct.choices[0].message
    assert through.usage == direct.usage


def test_openai_chat_stream_arrives_in_chunks_equal_to_direct(sim_fleet):
    messages = [{"role": "user", "content": "Salut"}]

    def pieces(url: str) -> list[str | None]:
        stream = sim_fleet.openai(url).chat.completions.create(
            model="llama3.2", messages=messages, stream=True
        )
        return [chunk.choices[0].delta.content for chunk in stream if chunk.choices]

    through = pieces(sim_fleet.url)
    assert len(through) > 3
    assert through == pieces(sim_fleet.urls["n1"])


def test_openai_completions_and_embeddings_equal_direct(sim_fleet):
    via, direct = (
        sim_fleet.openai(sim_fleet.url),
        sim_fleet.openai(sim_fleet.urls["n3"]),
    )
    text = via.completions.create(model="qwen2.5:0.5b", prompt="2+2").choices[0].text
    assert (
        text
        == direct.completions.create(model="qwen2.5:0.5b", prompt="2+2").choices[0].text
    )
    vector = via.embeddings.create(model="all-minilm", input="x").data[0].embedding
    assert (
        vector
        == direct.embeddings.create(model="all-minilm", input="x").data[0].embedding
    )


def test_openai_models_list_and_retrieve(sim_fleet):
    client = sim_fleet.openai(sim_fleet.url)
    assert {m.id for m in client.models.list()} == {
        "llama3.2:latest",
        "all-minilm:latest",
        "qwen2.5:0.5b",
    }
    assert client.models.retrieve("qwen2.5:0.5b").id == "qwen2.5:0.5b"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.chat.completions.create(
            model="smollm2:135m", messages=[{"role": "user", "content": "x"}]
        ),
        lambda c: c.embeddings.create(model="smollm2:135m", input="x"),
        lambda c: c.models.retrieve("smollm2"),
    ],
    ids=["chat", "embeddings", "retrieve"],
)
def test_openai_errors_equal_direct_errors(sim_fleet, call):
    with pytest.raises(openai.APIStatusError) as direct:
        call(sim_fleet.openai(sim_fleet.urls["n1"]))
    with pytest.raises(openai.APIStatusError) as through:
        call(sim_fleet.openai(sim_fleet.url))
    assert through.value.status_code == direct.value.status_code
    assert through.value.body == direct.value.body
