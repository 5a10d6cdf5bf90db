"""Tool calls (native and ``/v1``, streamed and not) and ``think``, with the
official clients: the deterministic rule lets an agent loop run end to end."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import jsonschema
import ollama
import openai
import pytest
from sim_nodes import Node

CALL_ID = re.compile(r"call_[a-z0-9]{8}")
ADD = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city", "unit"],
        },
    },
}
TOOLS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "get_weather": lambda city, unit: f"21 degrees {unit} in {city}",
}


@pytest.mark.parametrize("stream", [False, True])
def test_native_chat_answers_with_tool_calls_when_asked(
    node: Node, stream: bool
) -> None:
    client = ollama.Client(host=node.url)
    asked = "Use add on 2 and 40, then get_weather for 'Lyon' in fahrenheit"
    answer = client.chat(
        "llama3.2",
        [{"role": "user", "content": asked}],
        tools=[ADD, WEATHER],
        stream=stream,
    )
    parts = list(answer) if stream else [answer]
    calls = [c for p in parts for c in (p.message.tool_calls or [])]
    assert [c.function.name for c in calls] == ["add", "get_weather"]
    assert [dict(c.function.arguments) for c in calls] == [
        {"a": 2, "b": 40},
        {"city": "Lyon", "unit": "fahrenheit"},
    ]
    assert "".join(p.message.content or "" for p in parts) == ""
    assert parts[-1].done
    assert parts[-1].done_reason == "stop"
    with node.http() as http:
        raw = http.post(
            "/api/chat",
            json={
                "model": "llama3.2",
                "messages": [{"role": "user", "content": asked}],
                "tools": [ADD, WEATHER],
                "stream": stream,
            },
        )
    lines = [json.loads(line) for line in raw.text.splitlines()]
    wire = [c for line in lines for c in line["message"].get("tool_calls", [])]
    assert all(CALL_ID.fullmatch(c["id"]) for c in wire)
    assert [c["function"]["index"] for c in wire] == [0, 1]


def test_no_tool_named_means_a_text_reply(node: Node) -> None:
    answer = ollama.Client(host=node.url).chat(
        "llama3.2", [{"role": "user", "content": "Say hello"}], tools=[ADD]
    )
    assert answer.message.tool_calls is None
    assert answer.message.content


def test_native_agent_loop_runs_to_the_final_answer(node: Node) -> None:
    client = ollama.Client(host=node.url)
    messages: list[Any] = [{"role": "user", "content": "What is add of 19 and 23?"}]
    for _ in range(3):
        reply = client.chat("llama3.2", messages, tools=[ADD])
        messages.append(reply.message)
        if not reply.message.tool_calls:
            break
        for call in reply.message.tool_calls:
            result = TOOLS[call.function.name](**call.function.arguments)
            messages.append(
                {
                    "role": "tool",
                    "content": str(result),
                    "tool_name": call.function.name,
                }
            )
    assert [m["role"] if isinstance(m, dict) else m.role for m in messages] == [
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert messages[-1].content == "Tool results: add -> 42."


@pytest.mark.parametrize("stream", [False, True])
def test_openai_tool_calls_and_agent_loop(node: Node, stream: bool) -> None:
    with openai.OpenAI(base_url=node.url + "/v1", api_key="x", max_retries=0) as client:
        messages: list[Any] = [
            {"role": "user", "content": "Call get_weather for 'Paris' in celsius"}
        ]
        if stream:
            chunks = list(
                client.chat.completions.create(
                    model="llama3.2", messages=messages, tools=[WEATHER], stream=True
                )
            )
            deltas = [c.choices[0].delta for c in chunks if c.choices]
            calls = [t for d in deltas for t in (d.tool_calls or [])]
            finish = chunks[-1].choices[0].finish_reason
            assert deltas[0].role == "assistant"
        else:
            once = client.chat.completions.create(
                model="llama3.2", messages=messages, tools=[WEATHER]
            )
            calls = list(once.choices[0].message.tool_calls or [])
            finish = once.choices[0].finish_reason
        assert finish == "tool_calls"
        assert len(calls) == 1
        call = calls[0]
        assert CALL_ID.fullmatch(call.id or "")
        assert call.type == "function"
        arguments = json.loads(call.function.arguments or "")
        jsonschema.validate(arguments, WEATHER["function"]["parameters"])
        assert arguments == {"city": "Paris", "unit": "celsius"}
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": call.function.arguments,
                        },
                    }
                ],
            }
        )
        messages.append(
            {
                "role": "tool",
                "tool_call_id": call.id,
                "content": TOOLS["get_weather"](**arguments),
            }
        )
        final = client.chat.completions.create(
            model="llama3.2", messages=messages, tools=[WEATHER]
        )
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].message.content == (
        "Tool results: get_weather -> 21 degrees celsius in Paris."
    )


def test_think_values_are_validated_before_anything_else(node: Node) -> None:
    with node.http() as http:
        loud = http.post("/api/chat", json={"model": "nope", "think": "loud"})
        number = http.post("/api/generate", json={"model": "llama3.2", "think": 1})
        level = http.post(
            "/api/generate",
            json={"model": "llama3.2", "prompt": "hi", "think": "low"},
        )
        off = http.post(
            "/api/generate",
            json={"model": "llama3.2", "prompt": "hi", "think": False, "stream": False},
        )
    assert (loud.status_code, loud.json()) == (
        400,
        {
            "error": 'invalid think value: "loud" (must be "high", "medium", "low",'
            ' "max", true, or false)'
        },
    )
    assert (number.status_code, number.json()) == (
        400,
        {
            "error": 'think must be a boolean or string ("high", "medium", "low",'
            ' "max", true, or false)'
        },
    )
    assert (level.status_code, level.json()) == (
        400,
        {"error": '"llama3.2" does not support thinking'},
    )
    assert off.status_code == 200  # false is fine on any model


def test_thinking_models_think_unless_told_not_to(
    make_node: Callable[..., AbstractContextManager[Node]],
) -> None:
    with make_node(("deepseek-r1:1.5b",)) as node:
        client = ollama.Client(host=node.url)
        default = client.generate("deepseek-r1:1.5b", "Why?")
        levels = [
            client.chat(
                "deepseek-r1:1.5b", [{"role": "user", "content": "Why?"}], think=t
            )
            for t in ("low", "medium", "high", "max", True)
        ]
        off = client.generate("deepseek-r1:1.5b", "Why?", think=False)
        with openai.OpenAI(
            base_url=node.url + "/v1", api_key="x", max_retries=0
        ) as oai:
            messages = [{"role": "user", "content": "Why?"}]
            reasoned = oai.chat.completions.create(
                model="deepseek-r1:1.5b", messages=messages, reasoning_effort="high"
            )
            plain = oai.chat.completions.create(
                model="deepseek-r1:1.5b", messages=messages, reasoning_effort="none"
            )
            with pytest.raises(openai.BadRequestError) as bad:
                oai.chat.completions.create(
                    model="deepseek-r1:1.5b", messages=messages, reasoning_effort="loud"
                )
    assert default.thinking
    assert default.response
    assert all(answer.message.thinking for answer in levels)
    assert off.thinking is None
    assert off.response
    message = reasoned.choices[0].message.model_dump()
    assert message["reasoning"]
    assert message["content"]
    assert "reasoning" not in plain.choices[0].message.model_dump(exclude_none=True)
    assert bad.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    assert bad.value.body["message"].startswith('invalid reasoning value: "loud"')  # type: ignore[index]
