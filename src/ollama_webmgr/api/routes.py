"""Registration of the JSON API blueprints (``create_app`` calls ``register_api``)."""

from __future__ import annotations

from flask import Flask

from ollama_webmgr.api import jobs, models


def register_api(app: Flask) -> None:
    app.register_blueprint(models.bp)
    app.register_blueprint(jobs.bp)
