"""Inference endpoints: generate, chat, embed, embeddings."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from ollama_webmgr.sim import inference, scheduler
from ollama_webmgr.sim.models_api import parse_name
from ollama_webmgr.sim.options import check_options
from ollama_webmgr.sim.replies import Turn, check_think, plan, thinking_on
from ollama_webmgr.sim.responses import json_response, ndjson_response
from ollama_webmgr.sim.state import InstalledModel, SimState
from ollama_webmgr.sim.structured import Format, parse_format
from ollama_webmgr.sim.wire import BadRequest, decode_body, parse_keep_alive, rfc3339

OPTIONS = "map[string]interface {}"
_COMMON = {"model": "string", "stream": "bool", "options": OPTIONS}
_INFER = {
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
    "keep_alive": "",
    "think": "",
    "format": "",
}
GENERATE_FIELDS = {
    **_COMMON,
    **_INFER,
    "prompt": "string",
    "suffix": "string",
    "system": "string",
    "template": "string",
    "context": "[]int",
    "raw": "bool",
    "images": "[]api.ImageData",
}
CHAT_FIELDS = {**_COMMON, **_INFER, "messages": "[]api.Message", "tools": "api.Tools"}


def created_at() -> str:
    return rfc3339(datetime.now(UTC))


@dataclass
class Job:
    """One resolved inference request."""

    state: SimState
    raw_name: str
    model: InstalledModel
    keep_alive: float | None
    options: dict[str, Any]
    started: float = field(default_factory=time.monotonic)

    def echo(self) -> dict[str, Any]:
        return {"model": self.raw_name, "created_at": created_at()}


def resolve(state: SimState, body: dict[str, Any], missing: str, absent: str) -> Job:
    """Resolve the model of an inference request, with the endpoint's texts."""
    keep_alive = parse_keep_alive(body.get("keep_alive"))
    raw = str(body.get("model") or "")
    if not raw:
        status = 400 if missing == "model is required" else 404
        raise BadRequest(missing, status)
    parse_name(raw)
    model = state.find(raw)
    if model is None:
        raise BadRequest(absent.format(raw), 404)
    options = body.get("options")
    return Job(
        state, raw, model, keep_alive, options if isinstance(options, dict) else {}
    )


def schedule(job: Job) -> scheduler.Lease:
    """Ollama's scheduleRunner: options checked (500), then a runner (503 if busy)."""
    job.options = {**check_options(job.model.options()), **check_options(job.options)}
    return scheduler.acquire(job.state, job.model, job.keep_alive, job.options)


def _require(job: Job, capability: str, action: str) -> None:
    if capability not in job.model.capabilities:
        raise BadRequest(f"{json.dumps(job.raw_name)} does not support {action}")


def limit_of(options: dict[str, Any]) -> int | None:
    value = options.get("num_predict")
    return int(value) if isinstance(value, int | float) and value >= 0 else None


Piece = Callable[..., dict[str, Any]]


def _run(
    job: Job,
    turn: Turn,
    piece: Piece,
    extra: dict[str, Any],
    done: scheduler.Release,
    prompt: str,
) -> Iterator[dict[str, Any]]:
    """Stream thinking, then text or tool calls, with a delay; then the final line."""
    with scheduler.slot(job.state, done.lease):
        eval_start = time.monotonic()
        for kind, items in (("thinking", turn.thinking), ("content", turn.content)):
            for token in items:
                time.sleep(job.state.token_delay)
                yield {**job.echo(), **piece(token, kind), "done": False}
        if turn.tool_calls:
            time.sleep(job.state.token_delay)
            yield {**job.echo(), **piece("", "tools", turn.tool_calls), "done": False}
        eval_ns = max(1, int((time.monotonic() - eval_start) * 1e9))
    done()
    prompt_count = inference.count_tokens(prompt) + 10
    yield {
        **job.echo(),
        **piece("", "content"),
        "done": True,
        "done_reason": turn.reason,
        **extra,
        "total_duration": int((time.monotonic() - job.started) * 1e9),
        "load_duration": done.lease.load_ns,
        "prompt_eval_count": prompt_count,
        "prompt_eval_duration": prompt_count * 150_000,
        "eval_count": len(turn.content) + len(turn.thinking) + len(turn.tool_calls),
        "eval_duration": eval_ns,
    }


def _collect(lines: Iterator[dict[str, Any]], key: str) -> dict[str, Any]:
    """``stream:false``: one object with the concatenated text and final metrics."""
    text, thinking, calls, last = "", "", [], {}
    for line in lines:
        holder = line if key == "response" else line["message"]
        text += holder.get(key if key == "response" else "content", "")
        thinking += holder.get("thinking", "")
        calls += holder.get("tool_calls", [])
        last = line
    if key == "response":
        last["response"] = text
        holder = last
    else:
        last["message"] = holder = {"role": "assistant", "content": text}
    if thinking:
        holder["thinking"] = thinking
    if calls:
        holder["tool_calls"] = calls
    return last


def _answer(
    request: Request, job: Job, stream: bool, key: str, lines: Iterator[dict[str, Any]]
) -> Response:
    if not stream:
        return json_response(_collect(lines, key))
    return ndjson_response(lines, job.state.faults, request.environ)


def _unload(job: Job, empty: bool, extra: dict[str, Any]) -> Response | None:
    """Empty prompt/messages with keep_alive 0: expire the runner (no load)."""
    if not (empty and job.keep_alive == 0):
        return None
    job.state.unload(job.model)
    return json_response({**job.echo(), **extra, "done": True, "done_reason": "unload"})


def _load(job: Job, lease: scheduler.Lease, extra: dict[str, Any]) -> Response:
    scheduler.release(job.state, lease)
    return json_response({**job.echo(), **extra, "done": True, "done_reason": "load"})


def full_name(model: InstalledModel) -> str:
    name = model.name
    return f"{name.host}/{name.namespace}/{name.model}:{name.tag}"


def _think(job: Job, body: dict[str, Any]) -> bool:
    return thinking_on(job.model.capabilities, body.get("think"), job.raw_name)


def _checked_format(
    job: Job, body: dict[str, Any], done: scheduler.Release
) -> Format | None:
    """``format`` is checked when the completion starts: after the load (500)."""
    try:
        return parse_format(body.get("format"))
    except BadRequest:
        done()
        raise


def _decode(request: Request, struct: str, fields: dict[str, str]) -> dict[str, Any]:
    body = decode_body(request.get_data(), struct, fields)
    check_think(body.get("think"))
    top = body.get("top_logprobs")
    if isinstance(top, int) and not 0 <= top <= 20:
        raise BadRequest("top_logprobs must be between 0 and 20")
    return body


def _generate_piece(
    text: str, kind: str, calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    if kind == "thinking":
        return {"response": "", "thinking": text}
    return {"response": text}


def _chat_piece(
    text: str, kind: str, calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "" if kind != "content" else text,
    }
    if kind == "thinking":
        message["thinking"] = text
    if calls:
        message["tool_calls"] = calls
    return {"message": message}


def generate(state: SimState, request: Request) -> Response:
    body = _decode(request, "GenerateRequest", GENERATE_FIELDS)
    job = resolve(state, body, "model '' not found", "model '{}' not found")
    prompt = str(body.get("prompt") or "")
    unloaded = _unload(job, not prompt, {"response": ""})
    if unloaded is not None:
        return unloaded
    if body.get("raw") and (
        body.get("template") or body.get("system") or body.get("context")
    ):
        raise BadRequest("raw mode does not support template, system, or context")
    think = _think(job, body)
    _require(job, "completion", "generate")
    if body.get("suffix") and "insert" not in job.model.capabilities:
        raise BadRequest(f"{full_name(job.model)} does not support insert")
    lease = schedule(job)
    if not prompt:
        return _load(job, lease, {"response": ""})
    done = scheduler.Release(state, lease)
    fmt = _checked_format(job, body, done)
    turn = plan(prompt, think=think, fmt=fmt, limit=limit_of(job.options))
    extra = {} if body.get("raw") else {"context": _context(prompt)}
    lines = scheduler.Leased(
        _run(job, turn, _generate_piece, extra, done, prompt), done
    )
    return _answer(request, job, body.get("stream") is not False, "response", lines)


def _context(prompt: str) -> list[int]:
    return [(ord(c) * 31 + i) % 32000 for i, c in enumerate(prompt[:64])]


def chat_prompt(messages: list[Any], struct: str = "ChatRequest") -> str:
    """The last user text (messages must be objects, as Go decodes them)."""
    for message in messages:
        if not isinstance(message, dict):
            raise BadRequest(
                "json: cannot unmarshal "
                f"{'string' if isinstance(message, str) else 'number'} into Go struct "
                f"field {struct}.messages of type api.Message"
            )
    users = [
        str(m.get("content") or "")
        for m in messages
        if str(m.get("role", "")).lower() == "user"
    ]
    return users[-1] if users else json.dumps(messages)


def _tools_check(job: Job, tools: object) -> None:
    if tools and "tools" not in job.model.capabilities:
        raise BadRequest(f"{full_name(job.model)} does not support tools")


def chat(state: SimState, request: Request) -> Response:
    body = _decode(request, "ChatRequest", CHAT_FIELDS)
    job = resolve(state, body, "model is required", "model '{}' not found")
    messages = body.get("messages") or []
    prompt = chat_prompt(messages)
    empty = {"message": {"role": "assistant", "content": ""}}
    unloaded = _unload(job, not messages, empty)
    if unloaded is not None:
        return unloaded
    think = _think(job, body)
    _require(job, "completion", "chat")
    _tools_check(job, body.get("tools"))
    lease = schedule(job)
    if not messages:
        return _load(job, lease, empty)
    done = scheduler.Release(state, lease)
    fmt = _checked_format(job, body, done)
    turn = plan(
        prompt,
        think=think,
        fmt=fmt,
        tools=body.get("tools"),
        messages=messages,
        limit=limit_of(job.options),
    )
    lines = scheduler.Leased(_run(job, turn, _chat_piece, {}, done, prompt), done)
    return _answer(request, job, body.get("stream") is not False, "message", lines)


def _dimensions(job: Job, requested: object) -> int:
    length = job.model.catalog.family.embedding_length
    if isinstance(requested, int) and 0 < requested < length:
        return requested
    return length


def _embed_inputs(raw_input: object) -> list[str]:
    if isinstance(raw_input, str):
        return [raw_input] if raw_input else []
    if isinstance(raw_input, list) and all(isinstance(i, str) for i in raw_input):
        return list(raw_input)
    if raw_input is None:
        return []
    raise BadRequest("invalid input type")


def _embedding_pass(job: Job) -> scheduler.Lease:
    """Load the model and hold one of its slots for the time of an embedding."""
    lease = schedule(job)
    with scheduler.slot(job.state, lease):
        time.sleep(job.state.token_delay)
    scheduler.release(job.state, lease)
    return lease


def embed(state: SimState, request: Request) -> Response:
    fields = {
        **_COMMON,
        "input": "",
        "truncate": "bool",
        "dimensions": "int",
        "keep_alive": "",
    }
    body = decode_body(request.get_data(), "EmbedRequest", fields)
    job = resolve(
        state, body, "model '' not found", 'model "{}" not found, try pulling it first'
    )
    inputs = _embed_inputs(body.get("input"))
    lease = _embedding_pass(job)
    if not inputs:
        return json_response({"model": job.raw_name, "embeddings": []})
    size = _dimensions(job, body.get("dimensions"))
    return json_response(
        {
            "model": job.raw_name,
            "embeddings": [inference.embedding(text, size) for text in inputs],
            "total_duration": int((time.monotonic() - job.started) * 1e9),
            "load_duration": lease.load_ns,
            "prompt_eval_count": sum(inference.count_tokens(t) for t in inputs),
        }
    )


def embeddings(state: SimState, request: Request) -> Response:
    fields = {
        "model": "string",
        "prompt": "string",
        "options": OPTIONS,
        "keep_alive": "",
    }
    body = decode_body(request.get_data(), "EmbeddingRequest", fields)
    job = resolve(
        state, body, "model is required", 'model "{}" not found, try pulling it first'
    )
    _embedding_pass(job)
    prompt = str(body.get("prompt") or "")
    if not prompt:
        return json_response({"embedding": []})
    size = job.model.catalog.family.embedding_length
    return json_response({"embedding": inference.raw_embedding(prompt, size)})
