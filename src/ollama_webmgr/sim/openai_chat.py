"""``POST /v1/chat/completions``: OpenAI's shapes over the native chat semantics.

As Ollama's middleware: messages (text or parts, assistant ``tool_calls`` with
JSON-string arguments, ``tool`` results) become native messages;
``response_format`` ``json_object`` is JSON mode and ``json_schema`` a schema;
``reasoning_effort`` / ``reasoning.effort`` set ``think``; ``max_tokens`` is
``num_predict``. Thinking comes back as ``reasoning``, tool calls with
``finish_reason: "tool_calls"``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from ollama_webmgr.sim import inference, scheduler
from ollama_webmgr.sim.native_infer import (
    Job,
    chat_prompt,
    full_name,
    limit_of,
    resolve,
    schedule,
)
from ollama_webmgr.sim.replies import Turn, plan, thinking_on
from ollama_webmgr.sim.responses import faulty_lines, json_response
from ollama_webmgr.sim.state import SimState
from ollama_webmgr.sim.structured import parse_format
from ollama_webmgr.sim.wire import BadRequest, decode_body, go_json

FIELDS = {
    "model": "string",
    "messages": "[]openai.Message",
    "stream": "bool",
    "stream_options": "",
    "max_tokens": "int",
    "response_format": "",
    "tools": "[]api.Tool",
    "reasoning": "",
    "reasoning_effort": "string",
}
_EFFORTS: dict[str, object] = {
    "none": False,
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "max": "max",
    "xhigh": "max",
    "ultra": "max",
}
_GO_TYPES = {
    bool: "bool",
    int: "float64",
    float: "float64",
    dict: "map[string]interface {}",
}


def think_from_effort(body: dict[str, Any]) -> object:
    """``reasoning.effort`` (or ``reasoning_effort``) as a native ``think``."""
    reasoning = body.get("reasoning")
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    if effort is None:
        effort = body.get("reasoning_effort")
    if not effort:
        return None
    if effort not in _EFFORTS:
        raise BadRequest(
            f'invalid reasoning value: {json.dumps(effort)} (must be "minimal",'
            ' "low", "medium", "high", "xhigh", "ultra", "max", or "none")'
        )
    return _EFFORTS[effort]


def format_of(body: dict[str, Any]) -> object:
    """``response_format`` as a native ``format`` value (None: plain text)."""
    spec = body.get("response_format")
    if not isinstance(spec, dict):
        return None
    kind = str(spec.get("type") or "").strip().lower()
    if kind == "json_object":
        return "json"
    schema = spec.get("json_schema")
    if kind == "json_schema" and isinstance(schema, dict):
        return schema.get("schema")
    return None


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in (
                "text",
                "image_url",
            ):
                raise BadRequest("invalid message format")
            texts.append(str(part.get("text") or ""))
        return "".join(texts)
    if message.get("tool_calls") is not None:
        return ""
    go_type = (
        "<nil>" if content is None else _GO_TYPES.get(type(content), "[]interface {}")
    )
    raise BadRequest(f"invalid message content type: {go_type}")


def _native_calls(calls: object) -> list[dict[str, Any]]:
    native = []
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError):
            raise BadRequest("invalid character in tool call arguments") from None
        native.append(
            {
                "id": call.get("id"),
                "function": {"name": function.get("name"), "arguments": arguments},
            }
        )
    return native


def native_messages(messages: list[Any]) -> list[dict[str, Any]]:
    chat_prompt(messages, "ChatCompletionRequest")  # objects only
    return [
        {
            "role": m.get("role"),
            "content": _text(m),
            "tool_calls": _native_calls(m.get("tool_calls")),
            "tool_call_id": m.get("tool_call_id"),
            "tool_name": m.get("name")
            if str(m.get("role")).lower() == "tool"
            else None,
        }
        for m in messages
    ]


def openai_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "id": call["id"],
            "index": call["function"]["index"],
            "type": "function",
            "function": {
                "name": call["function"]["name"],
                "arguments": json.dumps(
                    call["function"]["arguments"], separators=(",", ":")
                ),
            },
        }
        for call in calls
    ]


def _usage(prompt: str, turn: Turn) -> dict[str, int]:
    count = inference.count_tokens(prompt) + 10
    completion = len(turn.content) + len(turn.thinking) + len(turn.tool_calls)
    return {
        "prompt_tokens": count,
        "completion_tokens": completion,
        "total_tokens": count + completion,
    }


def _finish(turn: Turn) -> str:
    return "tool_calls" if turn.tool_calls and turn.reason == "stop" else turn.reason


def _message(turn: Turn) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(turn.content)}
    if turn.thinking:
        message["reasoning"] = "".join(turn.thinking)
    if turn.tool_calls:
        message["tool_calls"] = openai_calls(turn.tool_calls)
    return message


def _deltas(turn: Turn) -> Iterator[dict[str, Any]]:
    for token in turn.thinking:
        yield {"content": "", "reasoning": token}
    for token in turn.content:
        yield {"content": token}
    if turn.tool_calls:
        yield {"content": "", "tool_calls": openai_calls(turn.tool_calls)}


def _chunks(
    head: dict[str, Any], turn: Turn, usage: dict[str, int] | None
) -> Iterator[dict[str, Any]]:
    chunk = {**head, "object": "chat.completion.chunk"}
    first = True
    for delta in _deltas(turn):
        if first:
            delta = {"role": "assistant", **delta}
            first = False
        yield {
            **chunk,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
    if first:  # nothing was said: still open with the role
        delta = {"role": "assistant", "content": ""}
        yield {
            **chunk,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }
    finish = {"index": 0, "delta": {}, "finish_reason": _finish(turn)}
    yield {**chunk, "choices": [finish]}
    if usage is not None:
        yield {**chunk, "choices": [], "usage": usage}


def sse(
    chunks: Iterator[dict[str, Any]], state: SimState, request: Request
) -> Response:
    def lines() -> Iterator[bytes]:
        for chunk in chunks:
            time.sleep(state.token_delay)
            yield b"data: " + go_json(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"

    return Response(
        faulty_lines(lines(), state.faults, request.environ),
        content_type="text/event-stream",
        direct_passthrough=True,
    )


def include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _prepare(
    state: SimState, body: dict[str, Any]
) -> tuple[Job, list[dict[str, Any]], bool]:
    raw_messages = body.get("messages") or []
    if not raw_messages:
        raise BadRequest("[] is too short - 'messages'")
    messages = native_messages(raw_messages)
    think = think_from_effort(body)
    job = resolve(state, body, "model is required", "model '{}' not found")
    wants = thinking_on(job.model.capabilities, think, job.raw_name)
    if "completion" not in job.model.capabilities:
        raise BadRequest(f"{json.dumps(job.raw_name)} does not support chat")
    if body.get("tools") and "tools" not in job.model.capabilities:
        raise BadRequest(f"{full_name(job.model)} does not support tools")
    if isinstance(body.get("max_tokens"), int):
        job.options = {**job.options, "num_predict": body["max_tokens"]}
    return job, messages, wants


def chat_completions(state: SimState, request: Request) -> Response:
    body = decode_body(request.get_data(), "ChatCompletionRequest", FIELDS)
    job, messages, think = _prepare(state, body)
    prompt = chat_prompt(messages)
    lease = schedule(job)
    try:
        fmt = parse_format(format_of(body))
        with scheduler.slot(state, lease):
            turn = plan(
                prompt,
                think=think,
                fmt=fmt,
                tools=body.get("tools"),
                messages=messages,
                limit=limit_of(job.options),
            )
    finally:
        scheduler.release(state, lease)
    head = {
        "id": f"chatcmpl-{random.randrange(999)}",
        "created": int(time.time()),
        "model": job.raw_name,
        "system_fingerprint": "fp_ollama",
    }
    usage = _usage(prompt, turn)
    if not body.get("stream"):
        choice = {"index": 0, "message": _message(turn), "finish_reason": _finish(turn)}
        answer = {**head, "object": "chat.completion", "choices": [choice]}
        return json_response({**answer, "usage": usage})
    return sse(
        _chunks(head, turn, usage if include_usage(body) else None), state, request
    )
