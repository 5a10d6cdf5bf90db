"""OpenAI-compatible endpoints (``/v1/*``) on top of the native semantics."""

from __future__ import annotations

import base64
import json
import random
import struct
import time
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim import inference, scheduler
from ollama_webmgr.sim.models_api import parse_name
from ollama_webmgr.sim.native_infer import Job, limit_of, resolve, schedule
from ollama_webmgr.sim.openai_chat import include_usage, sse
from ollama_webmgr.sim.responses import json_response
from ollama_webmgr.sim.state import InstalledModel, SimState
from ollama_webmgr.sim.wire import BadRequest, decode_body

_TYPES = {400: "invalid_request_error", 404: "not_found_error"}
_CHAT_FIELDS = {
    "model": "string",
    "messages": "[]openai.Message",
    "stream": "bool",
    "stream_options": "",
    "max_tokens": "int",
    "prompt": "string",
    "input": "",
    "dimensions": "int",
    "encoding_format": "string",
}


def error(message: str, status: int) -> Response:
    kind = _TYPES.get(status, "api_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return json_response(body, status)


def _job(state: SimState, body: dict[str, Any], absent: str, action: str = "") -> Job:
    job = resolve(state, body, "model is required", absent)
    if action and "completion" not in job.model.catalog.family.capabilities:
        raise BadRequest(f"{json.dumps(job.raw_name)} does not support {action}")
    if isinstance(body.get("max_tokens"), int):
        job.options = {**job.options, "num_predict": body["max_tokens"]}
    return job


def _usage(prompt: str, completion: int) -> dict[str, int]:
    count = inference.count_tokens(prompt) + 10
    return {
        "prompt_tokens": count,
        "completion_tokens": completion,
        "total_tokens": count + completion,
    }


def _tokens(job: Job, prompt: str) -> tuple[list[str], str]:
    lease = schedule(job)
    try:
        with scheduler.slot(job.state, lease):
            return inference.reply_tokens(prompt, limit_of(job.options))
    finally:
        scheduler.release(job.state, lease)


def completions(state: SimState, request: Request) -> Response:
    body = decode_body(request.get_data(), "CompletionRequest", _CHAT_FIELDS)
    job = _job(state, body, "model '{}' not found", "generate")
    prompt = str(body.get("prompt") or "")
    tokens, reason = _tokens(job, prompt)
    head = {
        "id": f"cmpl-{random.randrange(999)}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": job.raw_name,
        "system_fingerprint": "fp_ollama",
    }
    usage = _usage(prompt, len(tokens))
    if not body.get("stream"):
        choice = {"text": "".join(tokens), "index": 0, "finish_reason": reason}
        return json_response({**head, "choices": [choice], "usage": usage})
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    with_usage = include_usage(body)

    def chunks() -> Iterator[dict[str, Any]]:
        for index, token in enumerate(tokens):
            last = index == len(tokens) - 1
            choice = {
                "text": token,
                "index": 0,
                "finish_reason": reason if last else None,
            }
            yield {
                **head,
                "choices": [choice],
                **({"usage": zero} if with_usage else {}),
            }
        if with_usage:
            yield {**head, "choices": [], "usage": usage}

    return sse(chunks(), state, request)


def embeddings(state: SimState, request: Request) -> Response:
    body = decode_body(request.get_data(), "EmbedRequest", _CHAT_FIELDS)
    raw_input = body.get("input")
    inputs = [raw_input] if isinstance(raw_input, str) else raw_input
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("invalid input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise BadRequest(
            f"Invalid value for 'encoding_format' = {encoding}. "
            "Supported values: ['float', 'base64']."
        )
    job = _job(state, body, 'model "{}" not found, try pulling it first')
    lease = schedule(job)
    scheduler.release(state, lease)
    size = job.model.catalog.family.embedding_length
    dims = body.get("dimensions")
    if isinstance(dims, int) and 0 < dims < size:
        size = dims
    data = []
    for index, text in enumerate(inputs):
        vector: Any = inference.embedding(str(text), size)
        if encoding == "base64":
            packed = struct.pack(f"<{len(vector)}f", *vector)
            vector = base64.b64encode(packed).decode()
        data.append({"object": "embedding", "embedding": vector, "index": index})
    count = sum(inference.count_tokens(str(t)) for t in inputs)
    usage = {"prompt_tokens": count, "total_tokens": count}
    return json_response(
        {"object": "list", "data": data, "model": job.raw_name, "usage": usage}
    )


def _model_object(model_id: str, model: InstalledModel) -> dict[str, Any]:
    return {
        "id": model_id,
        "object": "model",
        "created": int(model.modified_at.timestamp()),
        "owned_by": model.name.namespace,
    }


def list_models(state: SimState, request: Request) -> Response:
    data = [_model_object(m.name.display, m) for m in state.listed()]
    return json_response({"object": "list", "data": data or None})


def retrieve_model(state: SimState, request: Request) -> Response:
    raw = str(request.environ.get("sim.route_args", {}).get("model", ""))
    name: ModelName = parse_name(raw)
    model = state.find(raw)
    if model is None:
        raise BadRequest(f"model '{name.display}' not found", 404)
    return json_response(_model_object(raw, model))
