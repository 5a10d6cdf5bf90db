"""``/api/openapi.json`` and ``/api/docs`` (Swagger UI, served from our assets)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, url_for

from ollama_webmgr.api.openapi import openapi_document

bp = Blueprint("api_docs", __name__, url_prefix="/api")


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi_document())


@bp.get("/docs")
def docs() -> str:
    return render_template("api_docs.html", spec_url=url_for("api_docs.openapi_json"))
