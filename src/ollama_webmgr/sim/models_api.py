"""Model management endpoints: tags, pull, delete, copy, ps."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from ollama_webmgr.errors import InvalidModelName
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.pulling import pull_statuses
from ollama_webmgr.sim.responses import (
    client_gone,
    empty_response,
    error_response,
    json_response,
    ndjson_response,
)
from ollama_webmgr.sim.state import InstalledModel, SimState
from ollama_webmgr.sim.wire import BadRequest, decode_body, rfc3339


def parse_name(raw: str, message: str = "invalid model name") -> ModelName:
    try:
        return ModelName.parse(raw)
    except InvalidModelName:
        raise BadRequest(message) from None


def details(model: InstalledModel, *, lengths: bool = False) -> dict[str, Any]:
    family = model.catalog.family
    body: dict[str, Any] = {
        "parent_model": "",
        "format": family.format,
        "family": family.family,
        "families": list(family.families) if family.families else None,
        "parameter_size": model.catalog.variant.parameter_size,
        "quantization_level": model.catalog.variant.quantization_level,
    }
    if lengths:
        body["context_length"] = family.context_length
        body["embedding_length"] = family.embedding_length
    return body


def tags(state: SimState, request: Request) -> Response:
    models = [
        {
            "name": m.name.display,
            "model": m.name.display,
            "modified_at": rfc3339(m.modified_at),
            "size": m.size,
            "digest": m.digest,
            "details": details(m, lengths=True),
            "capabilities": list(m.capabilities),
        }
        for m in state.listed()
    ]
    return json_response({"models": models})


def ps(state: SimState, request: Request) -> Response:
    models = [
        {
            "name": r.model.name.display,
            "model": r.model.name.display,
            "size": r.size,
            "digest": r.model.digest,
            "details": details(r.model),
            "expires_at": rfc3339(r.expires_at),
            "size_vram": r.size_vram,
            "context_length": r.context_length,
        }
        for r in state.running()
    ]
    return json_response({"models": models})


def _requested(body: dict[str, Any]) -> str:
    return str(body.get("model") or body.get("name") or "")


def pull(state: SimState, request: Request) -> Response:
    fields = {
        "model": "string",
        "name": "string",
        "stream": "bool",
        "insecure": "bool",
        "username": "string",
        "password": "string",
    }
    body = decode_body(request.get_data(), "PullRequest", fields)
    raw = _requested(body)
    name = parse_name(raw)
    if raw.lower().startswith("http://") and not body.get("insecure"):
        # The first thing the pull produces is an error: a real status, no stream.
        return error_response("insecure protocol http", 500)
    statuses = pull_statuses(
        state,
        name,
        insecure=bool(body.get("insecure")),
        client_gone=client_gone(request.environ),
    )
    if body.get("stream", True) is not False:
        return ndjson_response(statuses, state.faults, request.environ)
    last: dict[str, object] = {}
    for last in statuses:
        if "error" in last:
            return error_response(str(last["error"]), 500)
    return json_response(last, content_type="application/json")


def delete(state: SimState, request: Request) -> Response:
    fields = {"model": "string", "name": "string"}
    body = decode_body(request.get_data(), "DeleteRequest", fields)
    raw = _requested(body)
    if not raw:
        raise BadRequest("model is required")
    parse_name(raw, f'name "{raw}" is invalid')
    model = state.find(raw)
    if model is None:
        raise BadRequest(f"model '{raw}' not found", 404)
    state.delete(model)
    return empty_response()


def copy(state: SimState, request: Request) -> Response:
    fields = {"source": "string", "destination": "string"}
    body = decode_body(request.get_data(), "CopyRequest", fields)
    source, destination = str(body.get("source", "")), str(body.get("destination", ""))
    parse_name(source, f'source "{source}" is invalid')
    target = parse_name(destination, f'destination "{destination}" is invalid')
    model = state.find(source)
    if model is None:
        raise BadRequest(f'model "{source}" not found', 404)
    if model.name.key != target.key:
        state.copy(model, target)
    return empty_response()
