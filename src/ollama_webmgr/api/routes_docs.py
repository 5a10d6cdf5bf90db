"""``/api/openapi.json`` and ``/api/docs`` (Swagger UI, served from our assets)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template, url_for

from ollama_webmgr.api.openapi import (
    OK,
    STR,
    openapi_document,
    operation,
)

bp = Blueprint("api_docs", __name__, url_prefix="/api")


@bp.get("/openapi.json")
@operation("documentation", "Cette description OpenAPI", answers=OK)
def openapi_json() -> Response:
    return jsonify(openapi_document(current_app))


@bp.get("/docs")
@operation(
    "documentation",
    "Documentation interactive (Swagger UI)",
    answers={200: ("Page HTML", STR)},
)
def docs() -> str:
    return render_template("api_docs.html", spec_url=url_for("api_docs.openapi_json"))
