"""The seed cache spoken as a registry: what the nodes pull from (``/v2/...``).

``GET|HEAD /v2/<ns>/<model>/manifests/<tag>``: the manifest of a model being
seeded, the registry's bytes verbatim (so the node's digest is the
registry's). ``GET|HEAD /v2/<ns>/<model>/blobs/<digest>``: the blob from the
cache's directory, a ``Range`` answered 206 with ``Content-Range``.

Real Ollama (``server/download.go``) first sends a ``GET`` without ``Range``
and takes the blob's direct URL from the answer's ``Location``: the real
registry answers 307 to its CDN, and a 200 passes only when it carries a
``Location`` too (Go's ``Response.Location`` fails without one). A 307 to
this same host would be followed (same host name) and end on a 200 without
``Location``; so a ``GET`` without ``Range`` is answered 200 with the bytes
*and* ``Location`` naming this very URL: Ollama closes that body unread and
fetches its ranged parts from the URL, any other client reads the blob. Not
run against a real Ollama here: the emulator asks only ``HEAD`` and ranges.

With a per-node cap (``node_rate()``, bytes/s), the blob bytes a node is sent
are paced by a ``Budget`` of that node (``ollama/bandwidth.py``), shared by
every web worker: all the parts a node fetches at once share its cap. The node
is known by the token its pull names in the namespace (``node_namespace``),
else by its address.

Anything else is Docker's ``*_UNKNOWN`` 404, as a registry answers: nothing
outside a current seeding goes out (no open proxy). The answers' shapes are
``registry_answers.py``'s, shared with the node agent's model port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import ClosingIterator

from ollama_webmgr.ollama.registry_answers import (
    blob_answer,
    manifest_answer,
    route,
    unknown,
)
from ollama_webmgr.ollama.seed_cache import SeedCache, split_namespace

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

PREFIX = "/v2/"


class SeedRegistry:
    """The WSGI app of the cache (mounted at ``/v2/`` of the web port)."""

    def __init__(
        self, cache: SeedCache, node_rate: Callable[[], float | None] = lambda: None
    ) -> None:
        self.cache = cache
        self.node_rate = node_rate

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        return route(request, self.manifest, self.blob)

    def manifest(self, namespace: str, model: str, tag: str) -> Response:
        return manifest_answer(self.cache.manifest_for(namespace, model, tag))

    def blob(
        self, request: Request, namespace: str, model: str, digest: str
    ) -> Response:
        path = self.cache.blob_path(namespace, model, digest)
        if path is None:
            return unknown("BLOB_UNKNOWN", "blob unknown to registry")
        response = blob_answer(request, path, digest)
        if "Range" not in request.headers:
            response.headers["Location"] = request.url  # Ollama's direct URL
        rate = self.node_rate() if request.method == "GET" else None
        if rate:
            _, token = split_namespace(namespace)
            node = token or request.remote_addr or "unknown"
            budget = self.cache.node_budget(node, rate)
            body = response.response  # the file: closed when the paced body is
            paced = budget.paced(response.iter_encoded(), digest)
            response.response = ClosingIterator(paced, getattr(body, "close", None))
        return response
