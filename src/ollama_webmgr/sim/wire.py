"""Byte-level details of Ollama's Go server: JSON, timestamps, durations, bodies.

Go's ``json.Marshal`` writes compact JSON and escapes ``<``, ``>`` and ``&``:

>>> go_json({"template": "<s>a & b</s>", "n": 1})
b'{"template":"\\\\u003cs\\\\u003ea \\\\u0026 b\\\\u003c/s\\\\u003e","n":1}'

Timestamps are RFC 3339 with trailing zeros of the fraction trimmed:

>>> from datetime import datetime, timezone, timedelta
>>> rfc3339(datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone.utc))
'2026-01-02T03:04:05.12Z'
>>> rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-7))))
'2026-01-02T03:04:05-07:00'

Go duration strings (``keep_alive``):

>>> parse_go_duration("1h30m"), parse_go_duration("0"), parse_go_duration("-1m")
(5400.0, 0.0, -60.0)
>>> parse_go_duration("300")
Traceback (most recent call last):
...
ollama_webmgr.sim.wire.BadRequest: time: missing unit in duration "300"
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any


class BadRequest(Exception):
    """An answer ``{"error": message}`` with ``status`` (400 unless said)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def go_json(value: object) -> bytes:
    """Compact JSON as Go's ``json.Marshal`` writes it (no trailing newline)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()


def rfc3339(moment: datetime) -> str:
    """Go's RFC3339Nano rendering: fraction trimmed, ``Z`` for a zero offset."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset()
    if offset is None or not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_PART = re.compile(r"(\d+\.?\d*|\.\d+)([a-zµμ]*)")


def parse_go_duration(text: str) -> float:
    """Seconds for a Go ``time.ParseDuration`` string; BadRequest with Go's text."""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    body = text[1:] if text[:1] in "+-" else text
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    if not body:
        raise BadRequest(f"time: invalid duration {quoted}")
    total, position = 0.0, 0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None:
            raise BadRequest(f"time: invalid duration {quoted}")
        number, unit = match.groups()
        if not unit:
            raise BadRequest(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise BadRequest(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(number) * _UNITS[unit]
        position = match.end()
    if total >= _MAX_SECONDS:
        raise BadRequest(f"time: invalid duration {quoted}")
    return sign * total


_MAX_SECONDS = (2**63 - 1) / 1e9

_GO_TYPE_OF_JSON = {
    bool: "bool",
    list: "[]interface {}",
    dict: "map[string]interface {}",
}


def parse_keep_alive(value: object) -> float | None:
    """``keep_alive`` in seconds (negative: forever), None when absent/null."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        go_type = _GO_TYPE_OF_JSON.get(type(value), type(value).__name__)
        raise BadRequest(f"Unsupported type: '{go_type}'")
    seconds = parse_go_duration(value) if isinstance(value, str) else float(value)
    if abs(seconds) >= _MAX_SECONDS:
        return -1.0  # beyond int64 nanoseconds: Go ends up with "forever"
    return seconds


# --- request bodies -------------------------------------------------------

_JSON_KIND = {bool: "bool", str: "string", list: "array", dict: "object"}


def _kind(value: object) -> str:
    if isinstance(value, bool | str | list | dict):
        return _JSON_KIND[type(value)]
    return "number"


def _fits(value: object, go_type: str) -> bool:
    if value is None:
        return True
    if go_type == "string":
        return isinstance(value, str)
    if go_type == "bool":
        return isinstance(value, bool)
    if go_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if go_type.startswith("[]"):
        return isinstance(value, list)
    if go_type.startswith("map["):
        return isinstance(value, dict)
    return True


def _reject_constant(name: str) -> object:
    # Go's decoder knows no NaN/Infinity literals.
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _go_decode_error(raw: str, error: json.JSONDecodeError) -> str:
    if error.pos >= len(raw.rstrip()):
        return "unexpected EOF"
    char = raw[error.pos]
    shown = char if char != "'" else "\\'"
    if error.msg.startswith("Expecting property name"):
        return f"invalid character '{shown}' looking for beginning of object key string"
    if error.msg.startswith("Expecting ',' delimiter"):
        return f"invalid character '{shown}' after object key:value pair"
    if error.msg.startswith("Expecting ':' delimiter"):
        return f"invalid character '{shown}' after object key"
    return f"invalid character '{shown}' looking for beginning of value"


def decode_body(raw: bytes, struct: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """Decode a request body like gin's ``ShouldBindJSON`` into Go struct ``struct``.

    ``fields`` maps JSON names to Go types (``string``, ``bool``, ``int``,
    ``[]...``, ``map[...]``; anything else is not checked). Keys match
    case-insensitively as in Go; unknown keys are dropped.
    """
    if not raw:
        raise BadRequest("missing request body")
    text = raw.decode("utf-8", errors="replace")
    stripped = text.lstrip()
    try:
        value, _ = json.JSONDecoder(parse_constant=_reject_constant).raw_decode(
            stripped
        )
    except json.JSONDecodeError as error:
        raise BadRequest(_go_decode_error(stripped, error)) from None
    except ValueError as error:
        raise BadRequest(str(error)) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(
            f"json: cannot unmarshal {_kind(value)} into Go value of type api.{struct}"
        )
    folded = {name.casefold(): name for name in fields}
    result: dict[str, Any] = {}
    for key, item in value.items():
        name = key if key in fields else folded.get(key.casefold())
        if name is None:
            continue
        go_type = fields[name]
        if not _fits(item, go_type):
            kind = _kind(item)
            if kind == "number" and go_type == "int":
                kind = f"number {item}"
            raise BadRequest(
                f"json: cannot unmarshal {kind} into Go struct field "
                f"{struct}.{name} of type {go_type}"
            )
        result[name] = item
    return result
