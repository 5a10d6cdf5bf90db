"""``/api/downloads/...``: the bandwidth budget and the pull watchdog's settings.

* ``GET /api/downloads/config`` → ``{"config": {...}, "use": {...}}``: the
  settings (rates in bytes/s, null: unlimited) and the registry line's use now
  (``rate`` of the running downloads, ``cap``, ``flows``)
* ``PUT /api/downloads/config`` with some fields → the new settings (400 on a
  bad one, nothing changed); they apply to the pulls started afterwards
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from ollama_webmgr.api.inputs import json_body
from ollama_webmgr.api.openapi import BAD, OK, operation
from ollama_webmgr.api.params import fail
from ollama_webmgr.edge.auth import current_actor
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.usecases import download_settings as ds

bp = Blueprint("api_downloads", __name__, url_prefix="/api/downloads")


def _answer(values: ds.DownloadSettings) -> Response:
    use = ds.registry_use(get_services(), values)
    body: dict[str, Any] = {
        "config": values.as_dict(),
        "use": {"rate": use.rate, "cap": use.cap, "flows": len(use.flows)},
    }
    return jsonify(body)


@bp.get("/config")
@operation(
    "téléchargements",
    "Plafonds de débit et surveillance des téléchargements",
    answers=OK,
)
def get_config() -> Response:
    return _answer(ds.current(get_services()))


@bp.put("/config")
@operation(
    "téléchargements",
    "Modifier les plafonds de débit ou la surveillance (pour les téléchargements suivants)",
    body={"$ref": "#/components/schemas/DownloadConfig"},
    answers={**OK, **BAD},
)
def put_config() -> Response:
    changes = json_body()
    if not changes:
        fail("Aucun réglage à modifier.")
    return _answer(ds.change(get_services(), current_actor(), changes))
