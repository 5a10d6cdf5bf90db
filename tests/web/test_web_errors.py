from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_support import make_app, parse

from ollama_webmgr.errors import (
    InvalidModelName,
    OllamaServerError,
    OllamaTimeout,
    OllamaUnreachable,
    RemoteUnavailable,
    WebmgrError,
)

SECRET_DETAIL = "boom: internal detail that must not leak"


@pytest.fixture
def app() -> Flask:
    app = make_app()
    failures: dict[str, WebmgrError] = {
        "unreachable": OllamaUnreachable("connection refused", server="http://a:1"),
        "timeout": OllamaTimeout("read timeout"),
        "disk": OllamaServerError(
            "write /root/.ollama/models/blobs/x: no space left on device", status=500
        ),
        "name": InvalidModelName("bad name"),
        "remote": RemoteUnavailable("ollama.com down"),
    }

    # Test-only routes that fail on purpose.
    @app.get("/api/test/fail/<kind>")
    def api_fail(kind: str) -> str:
        raise failures[kind]

    @app.get("/api/test/crash")
    def api_crash() -> str:
        raise RuntimeError(SECRET_DETAIL)

    @app.get("/test/crash")
    def page_crash() -> str:
        raise RuntimeError(SECRET_DETAIL)

    @app.get("/test/fail")
    def page_fail() -> str:
        raise failures["unreachable"]

    return app


def test_unknown_api_route_answers_json_404(client: FlaskClient) -> None:
    response = client.get("/api/no-such-route")
    assert response.status_code == 404
    assert response.json == {
        "error": {"code": "not_found", "message": "Page introuvable."}
    }


def test_wrong_method_on_api_route_answers_json_405(client: FlaskClient) -> None:
    response = client.post("/api/test/crash", json={})
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("unreachable", 502, "ollama_unreachable", "Serveur Ollama injoignable."),
        ("timeout", 504, "ollama_timeout", "Délai dépassé"),
        ("disk", 507, "disk_full", "Espace disque insuffisant"),
        ("name", 400, "invalid_model_name", "Nom de modèle invalide."),
        ("remote", 503, "remote_unavailable", "Recherche indisponible"),
    ],
)
def test_service_errors_become_french_json_with_a_meaningful_status(
    client: FlaskClient, kind: str, status: int, code: str, message: str
) -> None:
    response = client.get(f"/api/test/fail/{kind}")
    assert response.status_code == status
    assert response.json["error"]["code"] == code
    assert response.json["error"]["message"].startswith(message)


def test_unexpected_exception_in_api_gives_json_500_without_traceback(
    client: FlaskClient,
) -> None:
    response = client.get("/api/test/crash", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    assert "boom" not in body
    assert json.loads(body) == {
        "error": {
            "code": "internal_error",
            "message": "Erreur interne du serveur.",
            "request_id": "req-42",
        }
    }


def test_unexpected_exception_in_a_page_renders_the_french_error_page(
    client: FlaskClient,
) -> None:
    response = client.get("/test/crash")
    assert response.status_code == 500
    doc = parse(response.data)
    assert doc.find("h1").get_text(strip=True) == "Erreur interne du serveur."
    assert response.headers["X-Request-ID"] in doc.get_text()
    assert "boom" not in response.get_data(as_text=True)


def test_unknown_page_renders_a_french_404_page(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    doc = parse(response.data)
    assert doc.html["lang"] == "fr"
    assert doc.find("h1").get_text(strip=True) == "Page introuvable."
    assert doc.find("a", string="Retour au tableau de bord")["href"] == "/"


def test_htmx_error_gets_a_fragment_and_a_toast_trigger(client: FlaskClient) -> None:
    response = client.get("/test/fail", headers={"HX-Request": "true"})
    assert response.status_code == 502
    assert parse(response.data).find("html") is None
    trigger = json.loads(response.headers["HX-Trigger"])
    assert trigger == {
        "toast": {"message": "Serveur Ollama injoignable.", "level": "error"}
    }
    assert response.headers["HX-Trigger"].isascii()
