"""The services a request's handlers use, reached through the Flask app.

``runtime.webapp`` installs them once; the pages and the JSON API read them
with ``get_services()``, so neither face imports the composition root.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from flask import Flask, current_app

if TYPE_CHECKING:
    from ollama_webmgr.runtime.services import Services

EXTENSION_KEY = "ollama_webmgr"


def install_services(app: Flask, services: Services) -> None:
    app.extensions[EXTENSION_KEY] = services


def get_services() -> Services:
    """The services of the application handling the current request."""
    return cast("Services", current_app.extensions[EXTENSION_KEY])
