"""``GET /health``: is the application able to serve?

Each check returns ``"ok"`` or a short English reason. Add a check (store,
Redis, Ollama...) to ``run_checks``; any failure turns the answer into a 503.

``agents`` (``agent_report``) is informational: a node agent that stopped
answering is shown as ``stale`` but never makes the web app unhealthy (a load
balancer would otherwise take the UI down because of one GPU box).
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify

from ollama_webmgr.errors import StoreError
from ollama_webmgr.manager.observability import agent_stale
from ollama_webmgr.store.database import Where
from ollama_webmgr.wiring import Services, get_services

bp = Blueprint("health", __name__)


def run_checks(services: Services) -> dict[str, str]:
    """Name -> ``"ok"`` or what is wrong."""
    return {"app": "ok"}


def agent_report(services: Services, now: float | None = None) -> dict[str, object]:
    """Per server with an agent: ``reachable`` or ``stale`` (with the last error)."""
    when = time.time() if now is None else now
    try:
        docs = services.db.find("servers", [Where("agent_address", "!=", None)])
    except StoreError as exc:
        return {"error": f"store: {exc.message}"}
    report: dict[str, object] = {}
    for doc in docs:
        info = doc.get("hardware_info") or {}
        entry: dict[str, object] = {
            "agent": doc.get("agent_address"),
            "state": "stale" if agent_stale(info, when) else "reachable",
            "collected_at": info.get("collected_at"),
        }
        if info.get("last_error"):
            entry["last_error"] = info["last_error"]
        report[str(doc.get("name") or doc.get("address"))] = entry
    return report


@bp.get("/health")
def health() -> Response:
    checks = run_checks(get_services())
    healthy = all(value == "ok" for value in checks.values())
    response = jsonify(
        status="ok" if healthy else "error",
        checks=checks,
        agents=agent_report(get_services()),
    )
    response.status_code = 200 if healthy else 503
    response.cache_control.no_store = True
    return response
