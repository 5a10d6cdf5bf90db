"""Built front-end assets: the manifest, the ``asset()`` helper and their route.

``make assets`` writes content-hashed files into ``static/dist/`` with ``.br`` and
``.gz`` siblings and a ``manifest.json`` (logical name -> hashed name). Hashed
files never change, so they are cached for a year as immutable; the route picks
the smallest encoding the browser accepts.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request, send_file

from ollama_webmgr.errors import AssetsNotBuilt

DIST_DIR = Path(__file__).parent / "static" / "dist"
EXTENSION_KEY = "ollama_webmgr.assets"
ONE_YEAR = 365 * 24 * 3600
#: preferred first: brotli is smaller than gzip
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))

bp = Blueprint("dist", __name__)


@dataclass(frozen=True)
class AssetManifest:
    """Logical asset names mapped to their hashed files in ``directory``."""

    directory: Path
    names: dict[str, str]

    @classmethod
    def load(cls, directory: Path = DIST_DIR) -> AssetManifest:
        path = directory / "manifest.json"
        try:
            names = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise AssetsNotBuilt(
                f"Front-end assets are not built ({path} is missing or unreadable):"
                " run `make assets`."
            ) from None
        if not isinstance(names, dict):
            raise AssetsNotBuilt(f"{path} is not a JSON object: run `make assets`.")
        return cls(
            directory=directory, names={str(k): str(v) for k, v in names.items()}
        )

    def url(self, name: str) -> str:
        """The URL of the built file for the logical ``name`` (e.g. ``app.css``)."""
        try:
            return f"/static/dist/{self.names[name]}"
        except KeyError:
            raise KeyError(
                f"unknown asset {name!r}: is it built by make assets?"
            ) from None

    def is_built_file(self, filename: str) -> bool:
        return filename in self.names.values()


def get_manifest() -> AssetManifest:
    manifest: AssetManifest = current_app.extensions[EXTENSION_KEY]
    return manifest


@bp.route("/static/dist/<filename>")
def dist_file(filename: str) -> Response:
    manifest = get_manifest()
    if not manifest.is_built_file(filename):
        abort(404)
    path = manifest.directory / filename
    mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if mimetype.startswith("text/") or mimetype.endswith("javascript"):
        mimetype += "; charset=utf-8"
    encoding = _chosen_encoding(path)
    if encoding is not None:
        path = path.with_name(path.name + dict(_ENCODINGS)[encoding])
    response = send_file(path, mimetype=mimetype, conditional=True, max_age=ONE_YEAR)
    if encoding is not None:
        response.headers["Content-Encoding"] = encoding
    response.vary.add("Accept-Encoding")
    response.cache_control.public = True
    response.cache_control.immutable = True
    return response


def _chosen_encoding(path: Path) -> str | None:
    accepted = request.accept_encodings
    for encoding, suffix in _ENCODINGS:
        if accepted[encoding] > 0 and path.with_name(path.name + suffix).is_file():
            return encoding
    return None
