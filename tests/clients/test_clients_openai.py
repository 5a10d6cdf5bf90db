"""The OpenAI Python client on ``/v1``: chat (streamed and not), structured
outputs, tools in an agent loop, reasoning, embeddings, models, completions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

import openai
import pytest
from clients_support import (
    ADD_TOOL,
    CALL_ID,
    CHAT,
    EMBEDDER,
    THINKER,
    Target,
    is_unit_vector,
)
from pydantic import BaseModel, Field


class Recipe(BaseModel):
    name: str
    servings: int = Field(ge=2)
    steps: list[str]
    course: Literal["starter", "main", "dessert"]


QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture
def client(target: Target) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=target.url + "/v1", api_key="x", max_retries=0
    ) as opened:
        yield opened


def test_chat_streamed_and_not(client: openai.OpenAI) -> None:
    once = client.chat.completions.create(model=CHAT, messages=QUESTION)
    assert once.object == "chat.completion"
    assert once.choices[0].finish_reason == "stop"
    assert once.choices[0].message.content
    assert once.usage is not None
    assert once.usage.completion_tokens > 0
    chunks = list(
        client.chat.completions.create(
            model=CHAT,
            messages=QUESTION,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == once.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert len({c.created for c in chunks}) == 1


def test_structured_outputs(client: openai.OpenAI) -> None:
    parsed = client.chat.completions.parse(
        model=CHAT, messages=QUESTION, response_format=Recipe
    )
    recipe = parsed.choices[0].message.parsed
    assert isinstance(recipe, Recipe)
    loose = client.chat.completions.create(
        model=CHAT, messages=QUESTION, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(loose.choices[0].message.content or ""), dict)


@pytest.mark.parametrize("stream", [False, True])
def test_tools_agent_loop(client: openai.OpenAI, stream: bool) -> None:
    messages: list[Any] = [{"role": "user", "content": "Use add on 19 and 23"}]
    if stream:
        chunks = list(
            client.chat.completions.create(
                model=CHAT, messages=messages, tools=[ADD_TOOL], stream=True
            )
        )
        calls = [
            t
            for c in chunks
            if c.choices
            for t in (c.choices[0].delta.tool_calls or [])
        ]
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        first = client.chat.completions.create(
            model=CHAT, messages=messages, tools=[ADD_TOOL]
        )
        calls = list(first.choices[0].message.tool_calls or [])
        finish = first.choices[0].finish_reason
    assert finish == "tool_calls"
    assert [
        (c.function.name, json.loads(c.function.arguments or "")) for c in calls
    ] == [("add", {"a": 19, "b": 23})]
    call = calls[0]
    assert CALL_ID.fullmatch(call.id or "")
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "add", "arguments": call.function.arguments},
                }
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "42"})
    final = client.chat.completions.create(
        model=CHAT, messages=messages, tools=[ADD_TOOL]
    )
    assert final.choices[0].finish_reason == "stop"
    assert "42" in (final.choices[0].message.content or "")


def test_reasoning(client: openai.OpenAI) -> None:
    reasoned = client.chat.completions.create(
        model=THINKER, messages=QUESTION, reasoning_effort="low"
    )
    message = reasoned.choices[0].message.model_dump()
    assert message["reasoning"]
    assert message["content"]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=CHAT, messages=QUESTION, reasoning_effort="high"
        )


def test_embeddings(client: openai.OpenAI) -> None:
    floats = client.embeddings.create(model=EMBEDDER, input=["first", "second"])
    assert [len(d.embedding) for d in floats.data] == [384, 384]
    assert all(is_unit_vector(d.embedding) for d in floats.data)
    short = client.embeddings.create(model=EMBEDDER, input="first", dimensions=32)
    assert len(short.data[0].embedding) == 32
    packed = client.embeddings.create(
        model=EMBEDDER, input="first"
    )  # base64 by default
    assert packed.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)


def test_models_and_completions(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"llama3.2:latest", "all-minilm:latest"} <= ids
    assert client.models.retrieve("llama3.2").owned_by == "library"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")
    completion = client.completions.create(model=CHAT, prompt="Why is the sky blue?")
    assert completion.choices[0].text
    assert completion.choices[0].finish_reason == "stop"
