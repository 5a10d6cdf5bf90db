"""Helpers shared by the web tests (a unique module name: test dirs have no __init__)."""

from __future__ import annotations

import tempfile
from typing import Any

from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from ollama_webmgr.edge.services import EXTENSION_KEY
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings

SERVERS = ("http://gpu-a:11434", "http://192.168.1.20:11434")
#: apps made by ``make_app`` in the current test; conftest closes their services
OPEN_APPS: list[Flask] = []


def make_app(**settings_overrides: Any) -> Flask:
    """A web app over ``Settings`` built directly (no environment involved)."""
    values: dict[str, Any] = {
        "data_dir": tempfile.mkdtemp(prefix="webmgr-web-"),
        "ollama_base_url": "http://localhost:11434",
        "ollama_servers": SERVERS,
        "secret_key": "test-secret-key",
    }
    values.update(settings_overrides)
    app = create_app(Settings(**values))
    OPEN_APPS.append(app)
    return app


def close_open_apps() -> None:
    """Close the services (pooled connections, store) of the apps made so far."""
    while OPEN_APPS:
        OPEN_APPS.pop().extensions[EXTENSION_KEY].close()


def parse(html: str | bytes) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def csrf_token_of(client: FlaskClient, path: str = "/") -> str:
    """The token a browser would read from the page's meta tag."""
    meta = parse(client.get(path).data).find("meta", attrs={"name": "csrf-token"})
    assert meta is not None
    return str(meta["content"])


def inline_code_problems(doc: BeautifulSoup) -> list[str]:
    """What a strict CSP would block: inline scripts, styles, handlers."""
    problems = [
        f"inline <script>: {tag}"
        for tag in doc.find_all("script")
        if not tag.get("src")
    ]
    problems += [f"<style>: {tag}" for tag in doc.find_all("style")]
    for tag in doc.find_all(True):
        for attribute in tag.attrs:
            if attribute == "style" or attribute.lower().startswith("on"):
                problems.append(f"{attribute} on <{tag.name}>")
            value = tag.attrs[attribute]
            if isinstance(value, str) and value.strip().lower().startswith(
                "javascript:"
            ):
                problems.append(f"javascript: URL in {attribute}")
    return problems
