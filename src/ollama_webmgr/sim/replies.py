"""What an emulated model answers: thinking, then text or tool calls, and why it stopped.

Shared by the native endpoints and ``/v1``. Replies are deterministic: the
same request gives the same text (see ``inference.reply_tokens``), a JSON
object or schema value under ``format`` (``structured``), tool calls when the
user names an offered tool (``tooling``).

>>> turn = plan("Why is the sky blue?", think=True)
>>> bool(turn.thinking), bool(turn.content), turn.tool_calls, turn.reason
(True, True, [], 'stop')
>>> check_think("loud")
Traceback (most recent call last):
...
ollama_webmgr.sim.wire.BadRequest: invalid think value: "loud" (must be "high", "medium", "low", "max", true, or false)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ollama_webmgr.sim import inference
from ollama_webmgr.sim.structured import Format, render
from ollama_webmgr.sim.tooling import plan_tool_calls, tool_results
from ollama_webmgr.sim.wire import BadRequest

THINK_LEVELS = ("high", "medium", "low", "max")
_CHOICES = '("high", "medium", "low", "max", true, or false)'
_PIECE = 6  # characters per streamed piece of JSON text


@dataclass
class Turn:
    thinking: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    reason: str = "stop"


def check_think(value: object) -> None:
    """``think`` as ``api.ThinkValue`` decodes it (a 400 before anything else)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        if value not in THINK_LEVELS:
            shown = json.dumps(value, ensure_ascii=False)
            raise BadRequest(
                f'invalid think value: {shown} (must be "high", "medium", "low",'
                ' "max", true, or false)'
            )
        return
    raise BadRequest(f"think must be a boolean or string {_CHOICES}")


def thinking_on(capabilities: tuple[str, ...], think: object, raw_name: str) -> bool:
    """Thinking models think unless told ``false``; others refuse ``think``."""
    wanted = think is True or isinstance(think, str)
    if "thinking" in capabilities:
        return think is None or wanted
    if wanted:
        raise BadRequest(f"{json.dumps(raw_name)} does not support thinking")
    return False


def _pieces(text: str) -> list[str]:
    return [text[i : i + _PIECE] for i in range(0, len(text), _PIECE)] or [""]


def plan(
    prompt: str,
    *,
    think: bool = False,
    fmt: Format | None = None,
    tools: object = None,
    messages: list[Any] | None = None,
    limit: int | None = None,
) -> Turn:
    """The reply to ``prompt`` (the last user text) in a conversation."""
    turn = Turn()
    if think:
        turn.thinking = inference.reply_tokens("think:" + prompt, None)[0]
    last = messages[-1] if messages else None
    if tools and isinstance(last, dict) and str(last.get("role")).lower() == "user":
        turn.tool_calls = plan_tool_calls(tools, str(last.get("content") or ""))
        if turn.tool_calls:
            return turn
    results = tool_results(messages) if messages else None
    if results is not None:
        tokens = [(" " if i else "") + w for i, w in enumerate(results.split(" "))]
    else:
        tokens = inference.reply_tokens(prompt, None)[0]
    if fmt is not None:
        words = [t.strip(" .") for t in tokens]
        tokens = _pieces(render(fmt, [w for w in words if w]))
    if limit is not None and 0 <= limit < len(tokens):
        tokens, turn.reason = tokens[:limit], "length"
    turn.content = tokens
    return turn
