"""The dashboard page (``/``): the configured servers, for now."""

from __future__ import annotations

from flask import Blueprint, Response

from ollama_webmgr.web.htmx import render_page
from ollama_webmgr.wiring import get_services

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index() -> Response:
    return render_page("dashboard.html", servers=get_services().servers.all())
