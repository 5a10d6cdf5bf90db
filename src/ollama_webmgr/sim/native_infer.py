"""Inference endpoints: generate, chat, embed, embeddings."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from ollama_webmgr.sim import inference
from ollama_webmgr.sim.models_api import parse_name
from ollama_webmgr.sim.responses import json_response, ndjson_response
from ollama_webmgr.sim.state import InstalledModel, SimState
from ollama_webmgr.sim.wire import BadRequest, decode_body, parse_keep_alive, rfc3339

OPTIONS = "map[string]interface {}"
_COMMON = {"model": "string", "stream": "bool", "options": OPTIONS}
GENERATE_FIELDS = {
    **_COMMON,
    "prompt": "string",
    "suffix": "string",
    "system": "string",
    "template": "string",
    "context": "[]int",
    "raw": "bool",
    "images": "[]api.ImageData",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
    "keep_alive": "",
    "think": "",
    "format": "",
}
CHAT_FIELDS = {
    **_COMMON,
    "messages": "[]api.Message",
    "tools": "api.Tools",
    "truncate": "bool",
    "shift": "bool",
    "logprobs": "bool",
    "top_logprobs": "int",
    "keep_alive": "",
    "think": "",
    "format": "",
}
_INT_OPTIONS = {"num_ctx", "num_predict", "seed", "top_k", "num_keep", "num_batch"}
_FLOAT_OPTIONS = {"temperature", "top_p", "min_p", "repeat_penalty"}


def created_at() -> str:
    return rfc3339(datetime.now(UTC))


def check_options(options: object) -> dict[str, Any]:
    """Options as Ollama validates them (wrong types answer 500)."""
    if not isinstance(options, dict):
        return {}
    for key, value in options.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in _INT_OPTIONS and not number:
            raise BadRequest(f'option "{key}" must be of type integer', 500)
        if key in _FLOAT_OPTIONS and not number:
            raise BadRequest(f'option "{key}" must be of type float', 500)
    return options


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
    options = check_options(body.get("options"))
    return Job(state, raw, model, keep_alive, options)


def _require(job: Job, capability: str, action: str) -> None:
    if capability not in job.model.catalog.family.capabilities:
        raise BadRequest(f"{json.dumps(job.raw_name)} does not support {action}")


def _limit(options: dict[str, Any]) -> int | None:
    value = options.get("num_predict")
    return int(value) if isinstance(value, int | float) and value >= 0 else None


Piece = Callable[[str, str], dict[str, Any]]


def _run(
    job: Job, prompt: str, piece: Piece, think: bool, extra: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """Load, stream (thinking then) tokens with a delay, then the final line."""
    lease = inference.acquire(job.state, job.model, job.keep_alive, job.options)
    try:
        tokens, reason = inference.reply_tokens(prompt, _limit(job.options))
        thoughts = inference.reply_tokens("think:" + prompt, None)[0] if think else []
        eval_start = time.monotonic()
        for kind, items in (("thinking", thoughts), ("content", tokens)):
            for token in items:
                time.sleep(job.state.token_delay)
                yield {**job.echo(), **piece(token, kind), "done": False}
        eval_ns = max(1, int((time.monotonic() - eval_start) * 1e9))
    finally:
        inference.release(job.state, lease)
    prompt_count = inference.count_tokens(prompt) + 10
    yield {
        **job.echo(),
        **piece("", "content"),
        "done": True,
        "done_reason": reason,
        **extra,
        "total_duration": int((time.monotonic() - job.started) * 1e9),
        "load_duration": lease.load_ns,
        "prompt_eval_count": prompt_count,
        "prompt_eval_duration": prompt_count * 150_000,
        "eval_count": len(tokens) + len(thoughts),
        "eval_duration": eval_ns,
    }


def _collect(lines: Iterator[dict[str, Any]], key: str) -> dict[str, Any]:
    """``stream:false``: one object with the concatenated text and final metrics."""
    text, thinking, last = "", "", {}
    for line in lines:
        holder = line if key == "response" else line["message"]
        text += holder.get(key if key == "response" else "content", "")
        thinking += holder.get("thinking", "")
        last = line
    if key == "response":
        last["response"] = text
        holder = last
    else:
        last["message"] = holder = {"role": "assistant", "content": text}
    if thinking:
        holder["thinking"] = thinking
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


def _load(job: Job, extra: dict[str, Any]) -> Response:
    lease = inference.acquire(job.state, job.model, job.keep_alive, job.options)
    inference.release(job.state, lease)
    return json_response({**job.echo(), **extra, "done": True, "done_reason": "load"})


def _full_name(job: Job) -> str:
    name = job.model.name
    return f"{name.host}/{name.namespace}/{name.model}:{name.tag}"


def _common_checks(job: Job, body: dict[str, Any]) -> bool:
    """Checks shared by generate and chat; True when thinking is requested."""
    top = body.get("top_logprobs")
    if isinstance(top, int) and not 0 <= top <= 20:
        raise BadRequest("top_logprobs must be between 0 and 20")
    capabilities = job.model.catalog.family.capabilities
    think = body.get("think")
    wanted = think not in (None, False, "")
    if wanted and "thinking" not in capabilities:
        raise BadRequest(f"{json.dumps(job.raw_name)} does not support thinking")
    if body.get("tools") and "tools" not in capabilities:
        raise BadRequest(f"{_full_name(job)} does not support tools")
    return wanted


def _generate_piece(text: str, kind: str) -> dict[str, Any]:
    if kind == "thinking":
        return {"response": "", "thinking": text}
    return {"response": text}


def _chat_piece(text: str, kind: str) -> dict[str, Any]:
    if kind == "thinking":
        return {"message": {"role": "assistant", "content": "", "thinking": text}}
    return {"message": {"role": "assistant", "content": text}}


def generate(state: SimState, request: Request) -> Response:
    body = decode_body(request.get_data(), "GenerateRequest", GENERATE_FIELDS)
    job = resolve(state, body, "model '' not found", "model '{}' not found")
    if body.get("raw") and (
        body.get("template") or body.get("system") or body.get("context")
    ):
        raise BadRequest("raw mode does not support template, system, or context")
    prompt = str(body.get("prompt") or "")
    unloaded = _unload(job, not prompt, {"response": ""})
    if unloaded is not None:
        return unloaded
    _require(job, "completion", "generate")
    think = _common_checks(job, body)
    if body.get("suffix") and "insert" not in job.model.catalog.family.capabilities:
        raise BadRequest(f"{_full_name(job)} does not support insert")
    if not prompt:
        return _load(job, {"response": ""})
    extra = {} if body.get("raw") else {"context": _context(prompt)}
    lines = _run(job, prompt, _generate_piece, think, extra)
    return _answer(request, job, body.get("stream") is not False, "response", lines)


def _context(prompt: str) -> list[int]:
    return [(ord(c) * 31 + i) % 32000 for i, c in enumerate(prompt[:64])]


def _chat_prompt(messages: list[Any]) -> str:
    for message in messages:
        if not isinstance(message, dict):
            raise BadRequest(
                "json: cannot unmarshal "
                f"{'string' if isinstance(message, str) else 'number'} into Go struct "
                "field ChatRequest.messages of type api.Message"
            )
    users = [
        str(m.get("content") or "")
        for m in messages
        if str(m.get("role", "")).lower() == "user"
    ]
    return users[-1] if users else json.dumps(messages)


def chat(state: SimState, request: Request) -> Response:
    body = decode_body(request.get_data(), "ChatRequest", CHAT_FIELDS)
    job = resolve(state, body, "model is required", "model '{}' not found")
    messages = body.get("messages") or []
    prompt = _chat_prompt(messages)
    empty = {"message": {"role": "assistant", "content": ""}}
    unloaded = _unload(job, not messages, empty)
    if unloaded is not None:
        return unloaded
    _require(job, "completion", "chat")
    think = _common_checks(job, body)
    if not messages:
        return _load(job, empty)
    lines = _run(job, prompt, _chat_piece, think, {})
    return _answer(request, job, body.get("stream") is not False, "message", lines)


def _dimensions(job: Job, requested: object) -> int:
    length = job.model.catalog.family.embedding_length
    if isinstance(requested, int) and 0 < requested < length:
        return requested
    return length


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
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        inputs = [raw_input] if raw_input else []
    elif isinstance(raw_input, list) and all(isinstance(i, str) for i in raw_input):
        inputs = list(raw_input)
    elif raw_input is None:
        inputs = []
    else:
        raise BadRequest("invalid input type")
    lease = inference.acquire(state, job.model, job.keep_alive, job.options)
    inference.release(state, lease)
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
    lease = inference.acquire(state, job.model, job.keep_alive, job.options)
    inference.release(state, lease)
    prompt = str(body.get("prompt") or "")
    if not prompt:
        return json_response({"embedding": []})
    size = job.model.catalog.family.embedding_length
    return json_response({"embedding": inference.raw_embedding(prompt, size)})
