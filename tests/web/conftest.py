from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_support import close_open_apps, make_app

from ollama_webmgr.web.dist import DIST_DIR


@pytest.fixture(autouse=True, scope="session")
def _assets_are_built() -> None:
    if not (DIST_DIR / "manifest.json").is_file():
        pytest.fail(
            f"front-end assets are missing in {DIST_DIR}: run `make assets`"
            " (make test builds them first)",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _close_apps() -> Iterator[None]:
    yield
    close_open_apps()


@pytest.fixture
def app() -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client
