"""A fake ollama.com and registry.ollama.ai on one WSGI app.

Pages (``/search``, ``/library``, ``/library/<model>``, ``/library/<model>/tags``)
follow the structure scrapers of the real site rely on (contract §10),
``/v2/<ns>/<model>/manifests/<tag>`` serves exactly the manifest bytes the
emulated nodes pull (contract §6.3), so digests agree everywhere, and
``/v2/<ns>/<model>/blobs/<digest>`` their bytes (``registry_blobs``).
``LibraryFaults`` breaks the site on purpose for tests and demos; the blob
downloads have their own knobs (``Registry.faults``, ``/_sim/registry/faults``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from ollama_webmgr.sim import library_pages as pages
from ollama_webmgr.sim.catalog import MANIFEST_MEDIA_TYPE, Registry
from ollama_webmgr.sim.registry_blobs import blob_response, control

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

HTML = "text/html; charset=utf-8"
NEWER_VERSION_BODY = (
    "\nThe model you are attempting to pull requires a newer version of Ollama."
    "\n\nPlease download the latest version at:\n\n\thttps://ollama.com/download\n"
)
_UA_VERSION = re.compile(r"\bollama/(\d+)\.(\d+)\.(\d+)")
_MANIFEST_PATH = re.compile(r"^/v2/([^/]+)/([^/]+)/manifests/([^/]+)$")
_MODEL_PATH = re.compile(r"^/library/([^/:]+)(/tags)?/?$")
_CAPABILITY_ALIASES = {"tool": "tools"}


@dataclass
class LibraryFaults:
    """Knobs that make the fake site misbehave; change them while it runs.

    Plain attribute reads and writes are atomic in CPython, which is all the
    request threads need.
    """

    markup_changed: bool = False  # HTML without the x-test markers / tag-row classes
    status: int | None = None  # answer every request with this status
    delay: float = 0.0  # seconds to wait before answering
    require_min_version: str | None = None  # e.g. "0.9.0": older User-Agents get 412


def _version_tuple(text: str) -> tuple[int, ...]:
    """``"0.9.1"`` → ``(0, 9, 1)``; non-numeric parts count as 0.

    >>> _version_tuple("0.12.3"), _version_tuple("1.2.x")
    ((0, 12, 3), (1, 2, 0))
    """
    return tuple(int(p) if p.isdigit() else 0 for p in text.split(".")[:3])


def _too_old(user_agent: str, minimum: str) -> bool:
    found = _UA_VERSION.search(user_agent)
    if found is None:
        return True  # not an Ollama client: the registry cannot vouch for it
    return tuple(int(g) for g in found.groups()) < _version_tuple(minimum)


class LibrarySite:
    """The WSGI callable; ``create_library_app`` is the public way to build it."""

    def __init__(
        self, registry: Registry, faults: LibraryFaults, *, page_size: int
    ) -> None:
        self.registry = registry
        self.faults = faults
        self.page_size = page_size

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        request = Request(environ)
        if self.faults.delay > 0:
            time.sleep(self.faults.delay)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if self.faults.status is not None:
            return Response(
                f"{self.faults.status} error\n",
                self.faults.status,
                mimetype="text/plain",
            )
        path = request.path
        if path.startswith("/_sim/registry/"):
            return control(self.registry, request) or self.not_found()
        if path.startswith("/v2/") and "/blobs/" in path:
            return blob_response(self.registry, request)
        if path.startswith("/v2/"):
            return self.manifest(request)
        if request.method not in ("GET", "HEAD"):
            return Response("405 method not allowed", 405, mimetype="text/plain")
        if path in ("/search", "/library", "/library/"):
            return self.search(request)
        found = _MODEL_PATH.match(path)
        if found is None:
            return self.not_found()
        entry = self.entry(found.group(1))
        if entry is None:
            return self.not_found()
        plain = self.faults.markup_changed
        if found.group(2):
            return Response(pages.tags_page(entry, plain=plain), content_type=HTML)
        return Response(pages.model_page(entry, plain=plain), content_type=HTML)

    def entries(self) -> list[pages.Entry]:
        return [
            pages.build_entry(self.registry, family, variants)
            for family, variants in self.registry.models()
        ]

    def entry(self, model: str) -> pages.Entry | None:
        for entry in self.entries():
            if entry.name.casefold() == model.casefold():
                return entry
        return None

    def search(self, request: Request) -> Response:
        query = request.args.get("q", "").strip().casefold()
        capability = request.args.get("c", "").strip().lower()
        capability = _CAPABILITY_ALIASES.get(capability, capability)
        try:
            page = max(1, int(request.args.get("page", "1")))
        except ValueError:
            page = 1
        matches = [
            e
            for e in self.entries()
            if (query in e.name.casefold() or query in e.family.description.casefold())
            and (not capability or capability in e.capabilities)
        ]
        start = (page - 1) * self.page_size
        shown = matches[start : start + self.page_size]
        next_params = None
        if start + self.page_size < len(matches):
            next_params = {"q": request.args.get("q", ""), "page": str(page + 1)}
            if capability:
                next_params = {**next_params, "c": capability}
        results = pages.search_results(
            shown, next_params, plain=self.faults.markup_changed
        )
        if request.headers.get("HX-Request") == "true":
            return Response(results, content_type=HTML)  # htmx infinite-scroll fragment
        typed = escape(request.args.get("q", "")[:100])
        form = f'<input id="search" name="q" value="{typed}">'
        title = "Ollama Search" if request.path == "/search" else "Library"
        return Response(pages.page(title, form + results), content_type=HTML)

    def not_found(self) -> Response:
        return Response(pages.not_found_page(), 404, content_type=HTML)

    def manifest(self, request: Request) -> Response:
        found = _MANIFEST_PATH.match(request.path)
        if request.method not in ("GET", "HEAD"):
            return Response("405 method not allowed", 405, mimetype="text/plain")
        minimum = self.faults.require_min_version
        if minimum and _too_old(request.headers.get("User-Agent", ""), minimum):
            return Response(NEWER_VERSION_BODY, 412, mimetype="text/plain")
        model = None
        if found is not None:
            namespace, name, tag = found.groups()
            model = self.registry.lookup(f"{namespace}/{name}:{tag}")
        if model is None:
            return _docker_error(
                404, "MANIFEST_UNKNOWN", "manifest unknown", request.path
            )
        return Response(model.manifest_bytes(), content_type=MANIFEST_MEDIA_TYPE)


def _docker_error(status: int, code: str, message: str, detail: str) -> Response:
    body = {"errors": [{"code": code, "message": message, "detail": detail}]}
    return Response(json.dumps(body), status, content_type="application/json")


def create_library_app(
    registry: Registry, faults: LibraryFaults | None = None, *, page_size: int = 10
) -> WSGIApplication:
    """Build the fake ollama.com + registry over ``registry``'s catalogue."""
    return LibrarySite(registry, faults or LibraryFaults(), page_size=page_size)
