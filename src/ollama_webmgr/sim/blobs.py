"""``HEAD|POST /api/blobs/:digest``: the files a create from ``files`` refers to.

As Ollama: the digest must match ``sha256[:-]<64 hex>`` (400 ``invalid digest
format``); HEAD answers 200 when the blob exists, else 404; POST answers 200
without reading the body when it exists, 201 once stored, 400 ``digest
mismatch, expected "<param>", got "sha256:<hex>"`` when the bytes hash to
something else (they are kept under their real digest all the same, as Ollama
does). The emulator keeps the size and the first bytes (a GGUF header).
"""

from __future__ import annotations

import hashlib
import json
import re

from werkzeug.wrappers import Request, Response

from ollama_webmgr.sim.responses import empty_response, error_response
from ollama_webmgr.sim.state import SimState
from ollama_webmgr.sim.wire import BadRequest

HEAD_BYTES = 1 << 20  # kept for parsing: a GGUF header fits
_DIGEST = re.compile(r"sha256[:-][0-9a-fA-F]{64}")
_CHUNK = 1 << 16


def _digest_param(request: Request) -> str:
    digest = str(request.environ.get("sim.route_args", {}).get("digest", ""))
    if digest and not _DIGEST.fullmatch(digest):
        raise BadRequest("invalid digest format")
    return digest


def _stored(state: SimState, digest: str) -> bool:
    """Blobs live on disk as ``sha256-<hex>``: both spellings name one file."""
    canonical = "sha256:" + digest[7:]
    with state.lock:
        return canonical in state.blobs or canonical in state.uploads


def blobs(state: SimState, request: Request) -> Response:
    """HEAD: is the blob there; POST: store the request body as that blob."""
    digest = _digest_param(request)
    if request.method == "POST":
        return _create_blob(state, request, digest)
    if not _stored(state, digest):
        return error_response(f"blob {json.dumps(digest)} not found", 404)
    return empty_response(200)


def _create_blob(state: SimState, request: Request, digest: str) -> Response:
    if _stored(state, digest):
        return empty_response(200)
    hasher = hashlib.sha256()
    head = bytearray()
    size = 0
    while chunk := request.stream.read(_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
    actual = "sha256:" + hasher.hexdigest()
    with state.lock:
        state.uploads[actual] = (size, bytes(head))
    if actual != digest:
        return error_response(
            f'digest mismatch, expected "{digest}", got "{actual}"', 400
        )
    return empty_response(201)


def upload(state: SimState, digest: str) -> tuple[int, bytes] | None:
    """Size and first bytes of an uploaded blob (either digest spelling)."""
    with state.lock:
        return state.uploads.get("sha256:" + digest[7:])
