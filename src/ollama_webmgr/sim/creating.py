"""``POST /api/create`` and ``POST /api/push`` of the emulated node.

Create: from an installed model (pulled first when missing, streaming the pull
statuses), or from ``files`` naming blobs the node holds (a model's weights);
``template``, ``system``, ``license``, ``parameters`` and ``messages`` become new
layers. Statuses as Ollama sends them: ``parsing GGUF`` (files), one
``using existing layer sha256:...`` / ``creating new layer sha256:...`` per
layer, ``writing manifest``, ``success``. Push: ``retrieving manifest``, per
layer ``pushing <12 hex>`` with digest/total/completed, ``pushing manifest``,
``success``; the fake registry accepts every push. Errors that come before any
line get a real status (``Refusal``); later ones are ``{"error"}`` lines.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from ollama_webmgr.errors import InvalidModelName
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.catalog import CONFIG_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, Layer
from ollama_webmgr.sim.pulling import pull_statuses
from ollama_webmgr.sim.responses import error_response, json_response, ndjson_response
from ollama_webmgr.sim.state import SimState
from ollama_webmgr.sim.wire import BadRequest, decode_body

Status = dict[str, object]
BLOB_DIR = "/root/.ollama/models/blobs"
MANIFEST_DIR = "/root/.ollama/models/manifests"
INVALID_NAME = "invalid model name"
CREATE_FIELDS = {
    "model": "string",
    "name": "string",
    "from": "string",
    "files": "map[string]string",
    "template": "string",
    "system": "string",
    "parameters": "map[string]interface {}",
    "messages": "[]api.Message",
    "quantize": "string",
    "stream": "bool",
}
_MEDIA = "application/vnd.ollama.image."


class Refusal(Exception):
    """The first thing a create produced is an error: a status, no stream."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _name(raw: str) -> ModelName:
    try:
        name = ModelName.parse(raw)
    except InvalidModelName:
        raise BadRequest(INVALID_NAME) from None
    return name


def check_create(state: SimState, body: dict[str, Any]) -> ModelName:
    """The checks Ollama makes before it starts streaming (``BadRequest``)."""
    for path, digest in (body.get("files") or {}).items():
        if path in (".", "") or path.startswith("/") or ".." in path.split("/"):
            raise BadRequest(f"file path must be relative: {path}")
        if not _is_digest(digest):
            raise BadRequest(f"invalid digest for {path}: invalid digest format")
        with state.lock:
            present = digest in state.blobs
        if not present and not path.endswith((".gguf", ".safetensors")):
            hexa = digest[7:]
            raise BadRequest(
                f"blob not found for {path} (digest {digest}): open "
                f"{BLOB_DIR}/sha256-{hexa}: no such file or directory"
            )
    name = _name(str(body.get("model") or body.get("name") or ""))
    if body.get("quantize") and (body.get("from") or body.get("files")):
        raise BadRequest(
            "create-time quantization is only supported for safetensors imports;"
            " quantize GGUF models with llama.cpp tools before importing"
        )
    return name


def _is_digest(value: str) -> bool:
    hexa = value[7:]
    return (
        value[:7] in ("sha256:", "sha256-")
        and len(hexa) == 64
        and all(c in "0123456789abcdef" for c in hexa)
    )


def create_statuses(
    state: SimState, name: ModelName, body: dict[str, Any]
) -> Iterator[Status]:
    """Every status object of one create; ``Refusal`` if it fails at once."""
    source = body.get("from")
    if source:
        try:
            from_name = ModelName.parse(str(source))
        except InvalidModelName:
            raise Refusal(INVALID_NAME, 400) from None
        base = state.find(from_name.display)
        if base is None:
            for line in pull_statuses(state, from_name):
                yield line
                if "error" in line:
                    return
            base = state.find(from_name.display)
            if base is None:
                yield {"error": "pull model manifest: file does not exist"}
                return
        catalog, layers = base.catalog, base.layers()
    elif body.get("files") is not None:
        weights = {m.catalog.weights.digest: m.catalog for m in state.listed()}
        files = [(p, "sha256:" + d[7:]) for p, d in sorted(body["files"].items())]
        gguf = [(p, d) for p, d in files if p.endswith(".gguf") or d in weights]
        if not gguf:
            raise Refusal("unknown type", 400)
        yield {"status": "parsing GGUF"}
        digest = gguf[0][1]
        if digest not in weights:  # absent, or bytes this node cannot parse
            with state.lock:
                held = digest in state.blobs
            missing = f"open {BLOB_DIR}/sha256-{digest[7:]}: no such file or directory"
            yield {"error": "invalid file magic" if held else missing}
            return
        catalog = weights[digest]
        layers = [catalog.weights]
    else:
        raise Refusal("neither 'from' or 'files' was specified", 400)
    layers = _with_modelfile_layers(layers, body)
    with state.lock:
        present = set(state.blobs)
    for layer in layers:
        verb = "using existing" if layer.digest in present else "creating new"
        yield {"status": f"{verb} layer {layer.digest}"}
    yield {"status": "writing manifest"}
    state.install_manifest(name, catalog, manifest_bytes(catalog.config, layers))
    with state.lock:
        state.blobs |= {layer.digest for layer in layers}
    yield {"status": "success"}


def _content(kind: str, text: str) -> Layer:
    data = text.encode()
    return Layer(
        _MEDIA + kind, "sha256:" + hashlib.sha256(data).hexdigest(), len(data), data
    )


def _with_modelfile_layers(layers: list[Layer], body: dict[str, Any]) -> list[Layer]:
    """Replace or add the layers the request sets (Ollama appends the new ones)."""
    added: list[Layer] = []
    if body.get("template"):
        added.append(_content("template", str(body["template"])))
    if body.get("system"):
        added.append(_content("system", str(body["system"])))
    if body.get("parameters"):
        old = next((ly for ly in layers if ly.media_type == _MEDIA + "params"), None)
        merged = json.loads(old.content or b"{}") if old else {}
        merged.update(body["parameters"])
        added.append(_content("params", json.dumps(merged, separators=(",", ":"))))
    if body.get("messages"):
        text = json.dumps(body["messages"], separators=(",", ":"))
        added.append(_content("messages", text))
    replaced = {layer.media_type for layer in added}
    return [ly for ly in layers if ly.media_type not in replaced] + added


def manifest_bytes(config: Layer, layers: list[Layer]) -> bytes:
    body = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {**config.as_json(), "mediaType": CONFIG_MEDIA_TYPE},
        "layers": [layer.as_json() for layer in layers],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def push_statuses(state: SimState, raw: str) -> Iterator[Status]:
    """Every status object of one push to the (accepting) fake registry."""
    yield {"status": "retrieving manifest"}
    model = state.find(raw)
    if model is None:
        name = ModelName.parse(raw)
        path = "/".join((MANIFEST_DIR, name.host, name.namespace, name.model, name.tag))
        yield {"status": "couldn't retrieve manifest"}
        yield {"error": f"open {path}: no such file or directory"}
        return
    config = model.catalog.config
    for layer in [*model.layers(), config]:
        line: Status = {
            "status": f"pushing {layer.digest[7:19]}",
            "digest": layer.digest,
            "total": layer.size,
        }
        yield line
        yield {**line, "completed": layer.size}
    yield {"status": "pushing manifest"}
    yield {"status": "success"}


def create(state: SimState, request: Request) -> Response:
    body = decode_body(request.get_data(), "CreateRequest", CREATE_FIELDS)
    name = check_create(state, body)
    return _answer(state, request, create_statuses(state, name, body), body)


def push(state: SimState, request: Request) -> Response:
    fields = {
        "model": "string",
        "name": "string",
        "insecure": "bool",
        "stream": "bool",
    }
    body = decode_body(request.get_data(), "PushRequest", fields)
    raw = str(body.get("model") or body.get("name") or "")
    if not raw:
        raise BadRequest("model is required")
    _name(raw)
    return _answer(state, request, push_statuses(state, raw), body)


def _answer(
    state: SimState,
    request: Request,
    statuses: Iterator[Status],
    body: dict[str, Any],
) -> Response:
    """A stream, or with ``stream: false`` the last status (500 on error)."""
    try:
        first = next(statuses)
    except Refusal as refusal:
        return error_response(refusal.message, refusal.status)
    lines = itertools.chain([first], statuses)
    if body.get("stream", True) is not False:
        return ndjson_response(lines, state.faults, request.environ)
    last: Status = {}
    for last in lines:
        if "error" in last:
            return error_response(str(last["error"]), 500)
    return json_response(last, content_type="application/json")
