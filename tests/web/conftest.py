from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from ollama_webmgr.settings import Settings
from ollama_webmgr.web.app import create_app
from ollama_webmgr.web.dist import DIST_DIR

SERVERS = ("http://gpu-a:11434", "http://192.168.1.20:11434")


@pytest.fixture(autouse=True, scope="session")
def _assets_are_built() -> None:
    if not (DIST_DIR / "manifest.json").is_file():
        pytest.fail(
            f"front-end assets are missing in {DIST_DIR}: run `make assets`"
            " (make test builds them first)",
            pytrace=False,
        )


def make_app(**settings_overrides: Any) -> Flask:
    """A web app over ``Settings`` built directly (no environment involved)."""
    values: dict[str, Any] = {
        "ollama_base_url": "http://localhost:11434",
        "ollama_servers": SERVERS,
        "secret_key": "test-secret-key",
    }
    values.update(settings_overrides)
    return create_app(Settings(**values))


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


def parse(html: str | bytes) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def csrf_token_of(client: FlaskClient, path: str = "/") -> str:
    """The token a browser would read from the page's meta tag."""
    meta = parse(client.get(path).data).find("meta", attrs={"name": "csrf-token"})
    assert meta is not None
    return str(meta["content"])
