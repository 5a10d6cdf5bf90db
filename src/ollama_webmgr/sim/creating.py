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
from collections.abc import Generator, Iterator
from typing import Any

from werkzeug.wrappers import Request, Response

from ollama_webmgr.errors import InvalidModelName
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.catalog import CONFIG_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, Layer
from ollama_webmgr.sim.files import Refusal, from_files
from ollama_webmgr.sim.pulling import pull_statuses
from ollama_webmgr.sim.responses import error_response, json_response, ndjson_response
from ollama_webmgr.sim.state import InstalledModel, SimState
from ollama_webmgr.sim.wire import BadRequest, decode_body, go_json

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
    "license": "",
    "parameters": "map[string]interface {}",
    "messages": "[]api.Message",
    "quantize": "string",
    "stream": "bool",
}
_MEDIA = "application/vnd.ollama.image."


def _name(raw: str) -> ModelName:
    try:
        name = ModelName.parse(raw)
    except InvalidModelName:
        raise BadRequest(INVALID_NAME) from None
    return name


def check_create(state: SimState, body: dict[str, Any]) -> ModelName:
    """The checks Ollama makes before it starts streaming (``BadRequest``)."""
    for path, digest in (body.get("files") or {}).items():
        if not _valid_path(path):
            raise BadRequest("file path must be relative")
        if not digest:
            raise BadRequest("invalid digest format")
    name = _name(str(body.get("model") or body.get("name") or ""))
    if body.get("quantize") and (body.get("from") or body.get("files")):
        raise BadRequest(
            "create-time quantization is only supported for safetensors imports;"
            " quantize GGUF models with llama.cpp tools before importing"
        )
    return name


def _valid_path(path: str) -> bool:
    """Go's ``fs.ValidPath``: relative, slash-separated, no ``.``/``..`` element."""
    if path == ".":
        return True
    return bool(path) and all(part not in ("", ".", "..") for part in path.split("/"))


def create_statuses(
    state: SimState, name: ModelName, body: dict[str, Any]
) -> Iterator[Status]:
    """Every status object of one create; ``Refusal`` if it fails at once."""
    source = body.get("from")
    if source:
        base = yield from _from_model(state, str(source))
        if base is None:
            return
        catalog, layers, contents = base.catalog, base.layers(), dict(base.contents)
    elif body.get("files") is not None:
        made = yield from from_files(state, body["files"])
        if made is None:
            return
        catalog, layers, contents = made, made.layers(), {}
    else:
        raise Refusal("neither 'from' or 'files' was specified", 400)
    layers = _with_modelfile_layers(layers, body)
    contents.update({ly.digest: ly.content for ly in layers if ly.content is not None})
    with state.lock:
        present = set(state.blobs) | set(state.uploads)
    for layer in layers:
        verb = "using existing" if layer.digest in present else "creating new"
        yield {"status": f"{verb} layer {layer.digest}"}
    yield {"status": "writing manifest"}
    manifest = manifest_bytes(catalog.config, layers)
    state.install_manifest(name, catalog, manifest, contents)
    with state.lock:
        state.blobs |= {layer.digest for layer in layers}
    yield {"status": "success"}


def _from_model(
    state: SimState, source: str
) -> Generator[Status, None, InstalledModel | None]:
    """The installed model ``source``, pulled first when missing."""
    try:
        from_name = ModelName.parse(source)
    except InvalidModelName:
        raise Refusal(INVALID_NAME, 400) from None
    base = state.find(from_name.display)
    if base is None:
        for line in pull_statuses(state, from_name):
            yield line
            if "error" in line:
                return None
        base = state.find(from_name.display)
        if base is None:
            yield {"error": "pull model manifest: file does not exist"}
    return base


def _content(kind: str, text: str) -> Layer:
    data = text.encode()
    return Layer(
        _MEDIA + kind, "sha256:" + hashlib.sha256(data).hexdigest(), len(data), data
    )


def _go_json_line(value: object) -> str:
    """Go's ``json.Encoder``: compact, HTML-escaped, map keys sorted, a newline."""
    if isinstance(value, dict):
        value = dict(sorted(value.items()))
    return go_json(value).decode() + "\n"


def _with_modelfile_layers(layers: list[Layer], body: dict[str, Any]) -> list[Layer]:
    """Ollama's setTemplate/setSystem/setLicense/setParameters/setMessages."""
    layers = list(layers)

    def replace(kind: str, layer: Layer | None) -> None:
        layers[:] = [ly for ly in layers if ly.media_type != _MEDIA + kind]
        if layer is not None:
            layers.append(layer)

    if body.get("template"):
        replace("template", _content("template", str(body["template"])))
    if body.get("system"):
        replace("system", _content("system", str(body["system"])))
    licenses = body.get("license")
    for text in [licenses] if isinstance(licenses, str) else licenses or []:
        if text:
            layers.append(_content("license", str(text)))
    old = [ly for ly in layers if ly.media_type == _MEDIA + "params"]
    merged = dict(body.get("parameters") or {})
    for layer in old:
        for key, value in json.loads(layer.content or b"{}").items():
            merged.setdefault(key, value)
    if merged:
        replace("params", _content("params", _go_json_line(merged)))
    if body.get("messages"):
        replace("messages", _content("messages", _go_json_line(body["messages"])))
    return layers


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
