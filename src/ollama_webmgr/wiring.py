"""The services an application runs with, built once and passed explicitly.

``create_app`` stores a ``Services`` in ``app.extensions["ollama_webmgr"]``; routes
reach it through ``get_services()``, background work receives it as an argument.
To add a collaborator (store, client pool, job runner, progress bus...), add a
field with a default here and build it in ``build_services``; tests pass their own
``Services`` with fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from ollama_webmgr.settings import Settings

EXTENSION_KEY = "ollama_webmgr"


@dataclass
class Services:
    settings: Settings
    #: configured Ollama base URLs, the primary first
    servers: tuple[str, ...]


def build_services(settings: Settings) -> Services:
    """The production services for ``settings``; opens nothing yet."""
    return Services(settings=settings, servers=settings.servers)


def get_services() -> Services:
    """The services of the application handling the current request."""
    return cast(Services, current_app.extensions[EXTENSION_KEY])
