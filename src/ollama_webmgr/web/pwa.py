"""The installable-app endpoints: web app manifest, service worker, offline page.

The service worker's source is ``assets/sw/service-worker.js`` with its
configuration filled in here: the precache list (every built asset, the offline
page, the manifest) and a version derived from the asset hashes and the worker's
own code. A deploy therefore changes ``/service-worker.js`` byte for byte, the
browser installs the new worker, and its ``activate`` step deletes the old
caches. Both files are served ``no-cache`` so browsers always revalidate them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, request

from ollama_webmgr.web.dist import AssetManifest, get_manifest
from ollama_webmgr.web.htmx import render_page

SERVICE_WORKER_TEMPLATE = Path(__file__).parent / "assets" / "sw" / "service-worker.js"
CONFIG_PLACEHOLDER = "__WEBMGR_CONFIG__"
APP_NAME = "Ollama WebMgr : gestion des modèles"
SHORT_NAME = "Ollama WebMgr"
THEME_COLOR = "#1e40af"
BACKGROUND_COLOR = "#f8fafc"
OFFLINE_PATH = "/offline"
MANIFEST_PATH = "/manifest.json"
#: pages cached at install so the app opens offline even before a first visit
START_PAGES = ("/",)
_SHORTCUTS = (
    ("Modèles", "/models"),
    ("En cours", "/running"),
    ("Recherche", "/search"),
)

bp = Blueprint("pwa", __name__)


def web_app_manifest(assets: AssetManifest) -> dict[str, Any]:
    """The Web App Manifest (French, standalone, icons from the built assets)."""
    icons = [
        {"src": assets.url("icon-192.png"), "sizes": "192x192", "purpose": "any"},
        {"src": assets.url("icon-512.png"), "sizes": "512x512", "purpose": "any"},
        {
            "src": assets.url("icon-maskable-512.png"),
            "sizes": "512x512",
            "purpose": "maskable",
        },
    ]
    return {
        "id": "/",
        "name": APP_NAME,
        "short_name": SHORT_NAME,
        "description": "Gérez les modèles de vos serveurs Ollama, même depuis un"
        " téléphone.",
        "lang": "fr",
        "dir": "ltr",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "categories": ["developer", "utilities"],
        "icons": [{**icon, "type": "image/png"} for icon in icons],
        "shortcuts": [{"name": name, "url": url} for name, url in _SHORTCUTS],
    }


def service_worker_source(assets: AssetManifest, template: str | None = None) -> str:
    """The worker's JavaScript with its precache list and cache version."""
    if template is None:
        template = SERVICE_WORKER_TEMPLATE.read_text(encoding="utf-8")
    config = {
        "version": cache_version(assets, template),
        "shell": precache_urls(assets),
        "pages": list(START_PAGES),
        "offline": OFFLINE_PATH,
    }
    if template.count(CONFIG_PLACEHOLDER) != 1:
        raise ValueError(
            f"the service worker template must hold {CONFIG_PLACEHOLDER} exactly once"
        )
    return template.replace(CONFIG_PLACEHOLDER, json.dumps(config), 1)


def precache_urls(assets: AssetManifest) -> list[str]:
    """The app shell: every built asset, the offline page and the manifest."""
    built = sorted(assets.url(name) for name in assets.names)
    return [*built, OFFLINE_PATH, MANIFEST_PATH]


def cache_version(assets: AssetManifest, template: str) -> str:
    """Changes whenever an asset or the worker's code changes (a deploy).

    >>> a = AssetManifest(Path("."), {"app.css": "app.0123456789.css"})
    >>> b = AssetManifest(Path("."), {"app.css": "app.9876543210.css"})
    >>> cache_version(a, "x") == cache_version(a, "x") != cache_version(b, "x")
    True
    >>> cache_version(a, "x") != cache_version(a, "y")
    True
    """
    digest = hashlib.sha256(template.encode("utf-8"))
    for name, hashed in sorted(assets.names.items()):
        digest.update(f"\0{name}\0{hashed}".encode())
    return digest.hexdigest()[:12]


@bp.get(MANIFEST_PATH)
def manifest() -> Response:
    body = json.dumps(web_app_manifest(get_manifest()), ensure_ascii=False)
    response = Response(body, mimetype="application/manifest+json")
    return _revalidated(response)


@bp.get("/service-worker.js")
def service_worker() -> Response:
    response = Response(
        service_worker_source(get_manifest()),
        mimetype="text/javascript",
    )
    # The root path already gives the root scope; the header states it outright.
    response.headers["Service-Worker-Allowed"] = "/"
    return _revalidated(response)


@bp.get(OFFLINE_PATH)
def offline() -> Response:
    """Shown by the service worker for a page that is neither online nor cached."""
    return render_page("offline.html")


def _revalidated(response: Response) -> Response:
    # no-cache: browsers may keep a copy but must ask (ETag -> 304) before using it.
    response.cache_control.no_cache = True
    response.add_etag()
    response.make_conditional(request)  # turns it into a 304 in place
    return response
