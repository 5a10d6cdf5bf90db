"""Structured outputs: ``format`` checked as Ollama does, and a reply that obeys it.

``"json"`` gives a JSON object; a JSON schema gives a value that matches it,
built deterministically from the schema (``$ref``/``$defs``, ``anyOf``/``oneOf``,
``enum``/``const``, bounds, ``minItems``, common string ``format`` values).
``pattern`` is not honoured: a real model's grammar would.

>>> value_for({"type": "object", "properties": {"n": {"type": "integer",
...     "minimum": 5}, "tags": {"type": "array", "items": {"enum": ["a", "b"]},
...     "minItems": 2}}, "required": ["n", "tags"]}, ["sky", "blue"])
{'n': 5, 'tags': ['a', 'a']}
>>> parse_format("xml")
Traceback (most recent call last):
...
ollama_webmgr.sim.wire.BadRequest: invalid format: "\\"xml\\""; expected "json" or a valid JSON Schema object
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ollama_webmgr.sim.wire import BadRequest

_STRING_FORMATS = {
    "date-time": "2026-01-01T12:00:00Z",
    "date": "2026-01-01",
    "time": "12:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "192.0.2.1",
    "hostname": "example.com",
}
_MAX_DEPTH = 8


@dataclass(frozen=True)
class Format:
    """A checked ``format``: JSON mode (``schema`` None) or a schema."""

    schema: dict[str, Any] | None


def parse_format(value: object) -> Format | None:
    """None when unset (absent, ``null``, ``""``); BadRequest(500) when invalid.

    Ollama checks it when the completion starts, so the error is a 500.
    """
    if value is None or value == "":
        return None
    if value == "json":
        return Format(None)
    if isinstance(value, dict):
        return Format(value)
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    quoted = json.dumps(raw, ensure_ascii=False)
    raise BadRequest(
        f'invalid format: {quoted}; expected "json" or a valid JSON Schema object', 500
    )


def render(fmt: Format, words: list[str]) -> str:
    """The JSON text the model writes under ``fmt`` (compact, as a grammar makes it)."""
    if fmt.schema is None:
        value: Any = {"response": " ".join(words)}
    else:
        value = value_for(fmt.schema, words)
    return json.dumps(value, ensure_ascii=False)


def value_for(schema: dict[str, Any], words: list[str]) -> Any:
    """A value matching ``schema``; strings are made of ``words``."""
    return _Builder(schema, words or ["value"]).build(schema, 0)


class _Builder:
    def __init__(self, root: dict[str, Any], words: list[str]) -> None:
        self.root = root
        self.words = words
        self.used = 0

    def build(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None if depth > _MAX_DEPTH else self._string({})
        schema = self._resolve(schema)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                return self.build(_prefer_not_null(options, self._resolve), depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(self._resolve(part) if isinstance(part, dict) else {})
            merged.update({k: v for k, v in schema.items() if k != "allOf"})
            return self.build(merged, depth + 1)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        simple: dict[str, Any] = {
            "integer": _integer(schema),
            "number": _number(schema),
            "boolean": True,
            "null": None,
        }
        return simple[kind] if kind in simple else self._string(schema)

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH:
            target: Any = self.root
            for part in schema["$ref"].lstrip("#").split("/"):
                if part:
                    target = target.get(part, {}) if isinstance(target, dict) else {}
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **rest} if isinstance(target, dict) else rest
            seen += 1
        return schema

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        value = {name: self.build(sub, depth + 1) for name, sub in properties.items()}
        for name in schema.get("required") or []:
            if isinstance(name, str) and name not in value:
                value[name] = self._string({})
        return value

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        if isinstance(prefix, list) and prefix:
            return [self.build(item, depth + 1) for item in prefix]
        count = max(int(schema.get("minItems") or 0), 1)
        maximum = schema.get("maxItems")
        if isinstance(maximum, int):
            count = min(count, maximum)
        items = schema.get("items", {})
        return [self.build(items, depth + 1) for _ in range(count)]

    def _string(self, schema: dict[str, Any]) -> str:
        fixed = _STRING_FORMATS.get(str(schema.get("format", "")))
        if fixed is not None:
            return fixed
        word = self.words[self.used % len(self.words)].strip(" .,") or "value"
        self.used += 1
        minimum = int(schema.get("minLength") or 0)
        while len(word) < minimum:
            word += " " + word
        maximum = schema.get("maxLength")
        if isinstance(maximum, int):
            word = word[:maximum]
        return word


def _prefer_not_null(options: list[Any], resolve: Any) -> Any:
    for option in options:
        if isinstance(option, dict) and resolve(option).get("type") != "null":
            return option
    return options[0]


def _kind(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def _limit(schema: dict[str, Any], key: str) -> float | None:
    value = schema.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _bounds(schema: dict[str, Any], step: float) -> tuple[float, float]:
    """The inclusive range a value must fall in (exclusive bounds moved by step)."""
    low, high = float("-inf"), float("inf")
    for key, shift, is_low in (
        ("minimum", 0.0, True),
        ("exclusiveMinimum", step, True),
        ("maximum", 0.0, False),
        ("exclusiveMaximum", -step, False),
    ):
        bound = _limit(schema, key)
        if bound is None:
            continue
        if is_low:
            low = max(low, bound + shift)
        else:
            high = min(high, bound + shift)
    return low, high


def _integer(schema: dict[str, Any]) -> int:
    low, high = _bounds(schema, 1)
    value = 1
    if value < low:
        value = math.ceil(low)
    multiple = schema.get("multipleOf")
    if isinstance(multiple, int) and multiple > 0 and value % multiple:
        value += multiple - value % multiple
    if value > high:
        value = math.floor(high)
    return value


def _number(schema: dict[str, Any]) -> float:
    low, high = _bounds(schema, 0.5)
    return float(min(max(1.5, low), high))
