"""The dashboard (``/``): fleet summary, loaded models, active jobs, links.

Every server is asked once, in parallel, with short timeouts
(``usecases/status.py``): an unreachable server shows « injoignable » and never
delays the page beyond a few seconds.
"""

from __future__ import annotations

from flask import Blueprint, Response

from ollama_webmgr.edge.services import get_services
from ollama_webmgr.usecases.status import fleet_status
from ollama_webmgr.web.htmx import render_page
from ollama_webmgr.web.models_view import job_view

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index() -> Response:
    services = get_services()
    statuses = fleet_status(services.servers.active(), services.clients)
    return render_page(
        "dashboard.html",
        statuses=statuses,
        servers=[status.server for status in statuses],
        reachable=sum(1 for status in statuses if status.reachable),
        disk_bytes=sum(status.disk_bytes for status in statuses),
        vram_bytes=sum(status.vram_bytes for status in statuses),
        jobs=[job_view(job) for job in services.runner.list(active_only=True)],
    )
