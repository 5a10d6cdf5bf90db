"""Tool calls of the emulated models: deterministic, so an agent loop can be tested.

The rule (documented in docs/ollama-compatibility.md): a model with the
``tools`` capability that is offered ``tools`` answers with tool calls, and no
text, when the last message is the user's and names offered functions (whole
word, any case), one call per named function in the order they are named.
Arguments follow the function's ``parameters`` schema: numbers take the
numbers written in the message in order, strings the quoted phrases
(``"…"``, ``'…'``, ``«…»``) in order, an ``enum`` the value the message
mentions; anything missing is generated from the schema. After tool results
(trailing ``tool`` messages) the model answers ``Tool results: <name> -> <content>.``

>>> tools = [{"type": "function", "function": {"name": "add", "parameters": {
...     "type": "object", "properties": {"a": {"type": "integer"},
...     "b": {"type": "integer"}}, "required": ["a", "b"]}}}]
>>> [c["function"] for c in plan_tool_calls(tools, "Use add on 2 and 40")]
[{'index': 0, 'name': 'add', 'arguments': {'a': 2, 'b': 40}}]
>>> plan_tool_calls(tools, "Just say hello")
[]
>>> tool_results([{"role": "user", "content": "add 2 and 40"},
...     {"role": "tool", "content": "42", "tool_name": "add"}])
'Tool results: add -> 42.'
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

from ollama_webmgr.sim.structured import value_for

_ID_CHARS = string.ascii_lowercase + string.digits
_QUOTED = re.compile(r'"([^"]+)"|\'([^\']+)\'|«\s*([^»]+?)\s*»')
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")


def call_id() -> str:
    """``call_`` and 8 lowercase letters or digits, as Ollama's toolCallId()."""
    return "call_" + "".join(random.choices(_ID_CHARS, k=8))


def _functions(tools: object) -> list[dict[str, Any]]:
    found = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            found.append(function)
    return found


def plan_tool_calls(tools: object, text: str) -> list[dict[str, Any]]:
    """Native ``tool_calls`` for the offered functions ``text`` names."""
    named = []
    for function in _functions(tools):
        pattern = r"(?<![\w-])" + re.escape(function["name"]) + r"(?![\w-])"
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            named.append((match.start(), function))
    named.sort(key=lambda item: item[0])
    return [
        {
            "id": call_id(),
            "function": {
                "index": index,
                "name": function["name"],
                "arguments": arguments_for(function.get("parameters"), text),
            },
        }
        for index, (_, function) in enumerate(named)
    ]


class _Takes:
    """The values a message offers, handed out in order."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.quoted = [next(g for g in m if g) for m in _QUOTED.findall(text)]
        self.numbers = _NUMBER.findall(_QUOTED.sub(" ", text))

    def value(self, schema: dict[str, Any]) -> tuple[bool, Any]:
        kind = schema.get("type")
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            lowered = self.text.casefold()
            return True, next(
                (v for v in enum if str(v).casefold() in lowered), enum[0]
            )
        if kind in ("integer", "number") and self.numbers:
            number = float(self.numbers.pop(0))
            return True, int(number) if kind == "integer" else number
        if kind == "string" and self.quoted:
            return True, self.quoted.pop(0)
        return False, None


def arguments_for(parameters: object, text: str) -> dict[str, Any]:
    """Arguments matching ``parameters`` (a JSON schema object), taken from ``text``."""
    if not isinstance(parameters, dict):
        return {}
    words = [w for w in re.findall(r"[\w'-]+", text) if len(w) > 2] or ["value"]
    generated = value_for(parameters, words)
    arguments = dict(generated) if isinstance(generated, dict) else {}
    takes = _Takes(text)
    properties = parameters.get("properties")
    for name, schema in (properties if isinstance(properties, dict) else {}).items():
        if isinstance(schema, dict):
            found, value = takes.value(schema)
            if found:
                arguments[name] = value
    return arguments


def _tool_name(message: dict[str, Any], history: list[Any]) -> str:
    name = message.get("tool_name") or message.get("name")
    if isinstance(name, str) and name:
        return name
    wanted = message.get("tool_call_id")
    for earlier in history:
        for call in (
            (earlier.get("tool_calls") or []) if isinstance(earlier, dict) else []
        ):
            function = call.get("function") if isinstance(call, dict) else None
            if call.get("id") == wanted and isinstance(function, dict):
                return str(function.get("name") or "tool")
    return "tool"


def tool_results(messages: list[Any]) -> str | None:
    """The answer to trailing ``tool`` messages, or None when the last is not one."""
    trailing: list[dict[str, Any]] = []
    for message in reversed(messages):
        if (
            not isinstance(message, dict)
            or str(message.get("role", "")).lower() != "tool"
        ):
            break
        trailing.insert(0, message)
    if not trailing:
        return None
    parts = [
        f"{_tool_name(m, messages)} -> {str(m.get('content') or '').strip()}"
        for m in trailing
    ]
    return "Tool results: " + "; ".join(parts) + "."
