"""The answers of a read-only registry (``/v2/``), shared by whoever serves one.

Two servers speak the registry protocol to the nodes: the manager's seed cache
(``seed_registry.py``) and a node agent serving its node's own model files
(``agent/model_port.py``). Both route the same three paths and answer in the
same shapes; only where a manifest's bytes and a blob's file come from
differs: ``route`` dispatches to the server's two handlers, which answer with
``manifest_answer``, ``blob_answer`` or ``unknown``.

* ``GET /v2/``: ``{}`` (the API's version check);
* ``GET|HEAD /v2/<ns>/<model>/manifests/<tag>``: the bytes verbatim, with
  ``Docker-Content-Digest`` (their sha256: the node's digest is the registry's);
* ``GET|HEAD /v2/<ns>/<model>/blobs/<digest>``: the file, a ``Range`` answered
  206 with ``Content-Range``; a ``GET`` without ``Range`` carries ``Location``
  naming this very URL, real Ollama's "direct URL" (``with_direct_url``);
* anything else: Docker's ``*_UNKNOWN`` 404; a method other than GET/HEAD: 405.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

#: ``registry.MANIFEST_ACCEPT``, not imported from there: the node agent
#: serves these answers and must not load ``httpx`` (``tests/agent``)
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST = re.compile(r"^/v2/([^/]+)/([^/]+)/manifests/([^/]+)$")
BLOB = re.compile(r"^/v2/([^/]+)/([^/]+)/blobs/(sha256:[0-9a-f]{64})$")

#: namespace, model, tag -> the answer
ManifestHandler = Callable[[str, str, str], Response]
#: the request, namespace, model, digest -> the answer
BlobHandler = Callable[[Request, str, str, str], Response]


def route(request: Request, manifest: ManifestHandler, blob: BlobHandler) -> Response:
    """The answer to one request of the registry API."""
    if request.method not in ("GET", "HEAD"):
        return Response("405 method not allowed", 405, mimetype="text/plain")
    if request.path == "/v2/":
        return json_answer({})  # the registry API's version check
    if found := MANIFEST.match(request.path):
        return manifest(*found.groups())
    if found := BLOB.match(request.path):
        return blob(request, *found.groups())
    return unknown("NAME_UNKNOWN", "repository name not known to registry")


def manifest_answer(body: bytes | None) -> Response:
    """The manifest's bytes verbatim (None: ``MANIFEST_UNKNOWN``)."""
    if body is None:
        return unknown("MANIFEST_UNKNOWN", "manifest unknown")
    response = Response(body, content_type=MANIFEST_MEDIA_TYPE)
    response.headers["Docker-Content-Digest"] = (
        f"sha256:{hashlib.sha256(body).hexdigest()}"
    )
    return response


def blob_answer(request: Request, path: Path | None, digest: str) -> Response:
    """The blob's file (None: ``BLOB_UNKNOWN``)."""
    if path is None:
        return unknown("BLOB_UNKNOWN", "blob unknown to registry")
    response = send_file(
        path,
        request.environ,
        mimetype="application/octet-stream",
        conditional=True,  # Range → 206 + Content-Range, HEAD → headers only
        etag=False,
        max_age=None,
    )
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Docker-Content-Digest"] = digest
    return response


def with_direct_url(request: Request, response: Response) -> Response:
    """A ``GET`` without ``Range`` names this very URL in ``Location``: real
    Ollama's "direct URL" for its ranged parts (see ``seed_registry.py``)."""
    if "Range" not in request.headers:
        response.headers["Location"] = request.url
    return response


def unknown(code: str, message: str) -> Response:
    body = {"errors": [{"code": code, "message": message, "detail": None}]}
    return json_answer(body, 404)


def json_answer(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")
