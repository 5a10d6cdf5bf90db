"""``GET /health``: is the application able to serve?

Each check returns ``"ok"`` or a short English reason. Add a check (store,
Redis, Ollama...) to ``run_checks``; any failure turns the answer into a 503.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ollama_webmgr.wiring import Services, get_services

bp = Blueprint("health", __name__)


def run_checks(services: Services) -> dict[str, str]:
    """Name -> ``"ok"`` or what is wrong."""
    return {"app": "ok"}


@bp.get("/health")
def health() -> Response:
    checks = run_checks(get_services())
    healthy = all(value == "ok" for value in checks.values())
    response = jsonify(status="ok" if healthy else "error", checks=checks)
    response.status_code = 200 if healthy else 503
    response.cache_control.no_store = True
    return response
