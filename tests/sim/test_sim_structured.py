"""``format`` (native) and ``response_format`` (``/v1``): JSON mode and JSON schemas,
checked with an independent validator (``jsonschema``)."""

from __future__ import annotations

import json

import jsonschema
import ollama
import openai
import pytest
from sim_nodes import Node

RECIPE = {
    "$defs": {
        "Step": {
            "type": "object",
            "properties": {
                "order": {"type": "integer", "minimum": 1},
                "text": {"type": "string", "minLength": 3},
            },
            "required": ["order", "text"],
            "additionalProperties": False,
        }
    },
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "servings": {"type": "integer", "minimum": 2, "maximum": 8},
        "vegan": {"type": "boolean"},
        "rating": {
            "anyOf": [{"type": "number", "exclusiveMaximum": 1}, {"type": "null"}]
        },
        "course": {"enum": ["starter", "main", "dessert"]},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}, "minItems": 2},
        "created": {"type": "string", "format": "date"},
    },
    "required": ["name", "servings", "vegan", "rating", "course", "steps", "created"],
    "additionalProperties": False,
}


def _text(parts: list[str]) -> str:
    return "".join(parts)


@pytest.mark.parametrize("stream", [False, True])
def test_native_format_json_and_schema_give_valid_json(
    node: Node, stream: bool
) -> None:
    client = ollama.Client(host=node.url)
    for fmt in ("json", RECIPE):
        answer = client.generate(
            "llama3.2", "A recipe please", format=fmt, stream=stream
        )
        text = _text([p.response for p in answer]) if stream else answer.response
        chat = client.chat(
            "llama3.2",
            [{"role": "user", "content": "A recipe please"}],
            format=fmt,
            stream=stream,
        )
        said = (
            _text([p.message.content for p in chat]) if stream else chat.message.content
        )
        for value in (json.loads(text), json.loads(said)):
            assert isinstance(value, dict)
            if fmt != "json":
                jsonschema.validate(value, RECIPE)
        if stream:  # the JSON text arrives in pieces, as tokens do
            again = client.generate(
                "llama3.2", "A recipe please", format=fmt, stream=True
            )
            assert len([p for p in again if not p.done]) > 2


def test_openai_response_format_json_object_and_json_schema(node: Node) -> None:
    with openai.OpenAI(base_url=node.url + "/v1", api_key="x", max_retries=0) as client:
        messages = [{"role": "user", "content": "A recipe please"}]
        plain = client.chat.completions.create(
            model="llama3.2", messages=messages, response_format={"type": "json_object"}
        )
        assert isinstance(json.loads(plain.choices[0].message.content or ""), dict)
        schema_format = {
            "type": "json_schema",
            "json_schema": {"name": "recipe", "schema": RECIPE, "strict": True},
        }
        once = client.chat.completions.create(
            model="llama3.2", messages=messages, response_format=schema_format
        )
        jsonschema.validate(json.loads(once.choices[0].message.content or ""), RECIPE)
        chunks = list(
            client.chat.completions.create(
                model="llama3.2",
                messages=messages,
                response_format=schema_format,
                stream=True,
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    jsonschema.validate(json.loads(text), RECIPE)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_invalid_format_is_a_500_once_the_model_is_loaded(node: Node) -> None:
    with node.http() as http:
        answer = http.post(
            "/api/generate", json={"model": "llama3.2", "prompt": "hi", "format": "xml"}
        )
        numeric = http.post(
            "/api/chat",
            json={
                "model": "llama3.2",
                "messages": [{"role": "user", "content": "hi"}],
                "format": 3,
                "stream": False,
            },
        )
        unset = http.post(
            "/api/generate",
            json={"model": "llama3.2", "prompt": "hi", "format": "", "stream": False},
        )
        ps = http.get("/api/ps").json()
    assert (answer.status_code, answer.json()) == (
        500,
        {
            "error": 'invalid format: "\\"xml\\""; expected "json" or a valid JSON'
            " Schema object"
        },
    )
    assert numeric.status_code == 500
    assert numeric.json()["error"].startswith('invalid format: "3";')
    assert unset.status_code == 200  # "" means no format
    assert [m["name"] for m in ps["models"]] == ["llama3.2:latest"]  # it was loaded
