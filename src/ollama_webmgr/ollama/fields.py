"""Typed, forgiving readers for fields of Ollama's JSON bodies.

Missing keys and JSON ``null`` take a default (Ollama omits empty fields and
older servers lack newer ones); a value of the wrong type raises
``OllamaServerError`` naming the field, never a bare ``KeyError``/``TypeError``.

>>> read_int({"size": 42}, "size")
42
>>> read_int({}, "size")
0
>>> read_str({"family": None}, "family")
''
>>> read_int({"size": "big"}, "size")
Traceback (most recent call last):
...
ollama_webmgr.errors.OllamaServerError: malformed answer: 'size' should be an integer, got 'big'
>>> read_str_tuple({"families": ["llama", "clip"]}, "families")
('llama', 'clip')
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ollama_webmgr.errors import OllamaServerError
from ollama_webmgr.ollama.timestamps import parse_timestamp


def malformed(detail: str) -> OllamaServerError:
    """The error raised for any answer that does not have the expected shape."""
    return OllamaServerError(f"malformed answer: {detail}")


def _wrong(key: str, expected: str, value: object) -> OllamaServerError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return malformed(f"{key!r} should be {expected}, got {shown}")


def require(data: Mapping[str, Any], key: str) -> Any:
    """The value of a field that must be present and not null."""
    value = data.get(key)
    if value is None:
        raise malformed(f"missing field {key!r}")
    return value


def read_str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _wrong(key, "a string", value)
    return value


def required_str(data: Mapping[str, Any], key: str) -> str:
    value = require(data, key)
    if not isinstance(value, str):
        raise _wrong(key, "a string", value)
    return value


def read_int(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key)
    if value is None:
        return default
    # bool is an int subclass in Python, never a size or a duration in JSON
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(key, "an integer", value)
    return value


def read_optional_int(data: Mapping[str, Any], key: str) -> int | None:
    return read_int(data, key) if data.get(key) is not None else None


def read_bool(data: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _wrong(key, "a boolean", value)
    return value


def read_str_tuple(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _wrong(key, "a list of strings", value)
    return tuple(value)


def read_mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A nested object, read-only; missing → empty."""
    value = data.get(key)
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise _wrong(key, "an object", value)
    return MappingProxyType(value)


def read_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(key, "a list", value)
    return value


def read_time(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _wrong(key, "an RFC 3339 timestamp", value)
    try:
        return parse_timestamp(value)
    except ValueError:
        raise _wrong(key, "an RFC 3339 timestamp", value) from None


def as_object(value: object, what: str) -> Mapping[str, Any]:
    """Check that a decoded JSON value is an object."""
    if not isinstance(value, dict):
        raise malformed(f"{what} should be a JSON object, got {type(value).__name__}")
    return value
