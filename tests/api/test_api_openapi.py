"""The OpenAPI description covers the whole JSON API; Swagger UI is served locally.

The description is built from the routes (``@operation`` next to each view, the
paths from Flask's URL map), so it and the URL map must say the same.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from ollama_webmgr.api.openapi import (
    OK,
    UndescribedRoute,
    described_operations,
    openapi_document,
    operation,
)
from ollama_webmgr.edge.security import CONTENT_SECURITY_POLICY
from ollama_webmgr.edge.services import get_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.serve import serve_in_thread


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(Settings(data_dir=str(tmp_path), secret_key="test"))
    yield app
    with app.app_context():
        get_services().close()


def _api_operations(app: Flask) -> set[tuple[str, str]]:
    operations = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                operations.add((method, path))
    return operations


def test_every_api_route_of_the_app_is_described(app: Flask) -> None:
    missing = sorted(_api_operations(app) - described_operations(app))
    assert not missing, "routes missing from the OpenAPI description: " + ", ".join(
        f"{method} {path}" for method, path in missing
    )
    assert described_operations(app) == _api_operations(app)


def test_a_route_without_its_declaration_stops_the_description() -> None:
    wrong_path, forgotten = Flask(__name__), Flask(__name__)

    @wrong_path.get("/api/described/<name>")
    @operation("essai", "Décrite, sans son paramètre", answers=OK)
    def described(name: str) -> str:
        return name

    @forgotten.get("/api/forgotten")
    def undescribed() -> str:
        return ""

    with pytest.raises(UndescribedRoute, match="/api/described/<name>: path"):
        openapi_document(wrong_path)
    with pytest.raises(UndescribedRoute, match="/api/forgotten has no @operation"):
        openapi_document(forgotten)


def test_the_description_is_served_as_openapi_3_1(app: Flask) -> None:
    document = app.test_client().get("/api/openapi.json").json
    assert document == openapi_document(app)
    assert document["openapi"] == "3.1.0"
    history = document["paths"]["/api/v1/servers/history"]["get"]
    assert [p["name"] for p in history["parameters"]] == ["server", "metric", "period"]
    assert set(history["responses"]) == {"200", "400", "404"}


def test_every_reference_in_the_description_resolves(app: Flask) -> None:
    document = openapi_document(app)
    text = repr(document)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in document["components"]["schemas"], name


def test_swagger_ui_is_served_from_our_assets_under_our_csp(app: Flask) -> None:
    client: FlaskClient = app.test_client()
    page = client.get("/api/docs")
    doc = BeautifulSoup(page.data, "html.parser")
    scripts = [str(tag["src"]) for tag in doc.find_all("script")]
    styles = [str(tag["href"]) for tag in doc.find_all("link", rel="stylesheet")]
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert all(tag.get("src") and not tag.string for tag in doc.find_all("script"))
    assert not doc.find_all("style")
    assert not doc.select("[style]")
    assert [s.split("/")[-1].split(".")[0] for s in scripts] == [
        "swagger-ui",
        "api-docs",
    ]
    for url in scripts + styles:
        assert url.startswith("/static/dist/")  # no CDN
        with client.get(url) as asset:
            assert asset.status_code == 200
    root = doc.find(id="swagger-ui")
    assert root is not None
    assert root["data-spec-url"] == "/api/openapi.json"
    with client.get(scripts[1]) as init:
        assert "SwaggerUIBundle" in init.get_data(as_text=True)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.slow
def test_swagger_ui_renders_in_a_real_browser_under_the_csp(app: Flask) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip("Debian's chromium is not installed (apt install chromium)")
    with serve_in_thread(app) as server:
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--virtual-time-budget=8000",
                "--dump-dom",
                server.url + "/api/docs",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    rendered = BeautifulSoup(dom, "html.parser")
    paths = {tag["data-path"] for tag in rendered.select(".opblock-summary-path")}
    assert "/api/v1/servers/history" in paths
    assert "/api/gateway/config" in paths
