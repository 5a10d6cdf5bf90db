from __future__ import annotations

import pytest
from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from web_support import csrf_token_of, make_app

from ollama_webmgr.edge.security import CONTENT_SECURITY_POLICY, MAX_BODY_BYTES


@pytest.fixture
def app() -> Flask:
    app = make_app()

    # Test-only routes: one form endpoint and one JSON API endpoint.
    @app.post("/test/form")
    def form_action() -> str:
        return "ok"

    @app.post("/api/test/echo")
    def api_echo() -> object:
        return jsonify(received=request.get_json())

    @app.delete("/api/test/thing")
    def api_delete() -> object:
        return jsonify(deleted=True)

    return app


def _assert_security_headers(headers: object) -> None:
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY  # type: ignore[index]
    assert headers["X-Content-Type-Options"] == "nosniff"  # type: ignore[index]
    assert headers["Referrer-Policy"] == "same-origin"  # type: ignore[index]
    assert headers["X-Frame-Options"] == "DENY"  # type: ignore[index]


def test_csp_forbids_inline_scripts_and_eval() -> None:
    directives = dict(
        part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; ")
    )
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize(
    "path", ["/", "/health", "/no-such-page", "/api/no-such-route"]
)
def test_every_response_carries_the_security_headers(
    client: FlaskClient, path: str
) -> None:
    _assert_security_headers(client.get(path).headers)


def test_static_and_rejected_responses_carry_the_security_headers(
    client: FlaskClient,
) -> None:
    from ollama_webmgr.web.dist import AssetManifest

    with client.get(AssetManifest.load().url("app.js")) as response:
        assert response.status_code == 200
        _assert_security_headers(response.headers)
    _assert_security_headers(client.post("/test/form").headers)


def test_cross_origin_post_is_refused_even_with_a_valid_token(
    client: FlaskClient,
) -> None:
    token = csrf_token_of(client)
    response = client.post(
        "/test/form",
        data={"csrf_token": token},
        headers={"Origin": "http://evil.example"},
    )
    assert response.status_code == 403


def test_cross_origin_json_api_call_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/api/test/echo", json={"a": 1}, headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_cross_site_fetch_without_origin_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/api/test/echo", json={}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403


def test_form_post_without_token_is_refused(client: FlaskClient) -> None:
    csrf_token_of(client)  # the browser has a session, but the form lacks the token
    response = client.post("/test/form", data={"name": "x"})
    assert response.status_code == 403
    assert "Requête refusée" in response.get_data(as_text=True)


def test_form_post_with_a_forged_token_is_refused(client: FlaskClient) -> None:
    csrf_token_of(client)
    response = client.post("/test/form", data={"csrf_token": "forged.token"})
    assert response.status_code == 403


def test_token_of_another_browser_is_refused(app: Flask) -> None:
    with app.test_client() as alice, app.test_client() as mallory:
        token = csrf_token_of(alice)
        csrf_token_of(mallory)
        assert mallory.post("/test/form", data={"csrf_token": token}).status_code == 403


def test_same_origin_form_post_with_token_field_is_accepted(
    client: FlaskClient,
) -> None:
    token = csrf_token_of(client)
    response = client.post(
        "/test/form",
        data={"csrf_token": token},
        headers={"Origin": "http://localhost"},
    )
    assert response.status_code == 200


def test_htmx_post_with_token_header_is_accepted(client: FlaskClient) -> None:
    token = csrf_token_of(client)
    response = client.post(
        "/test/form", headers={"X-CSRF-Token": token, "HX-Request": "true"}
    )
    assert response.status_code == 200


def test_json_api_without_json_content_type_is_refused_with_415(
    client: FlaskClient,
) -> None:
    response = client.post(
        "/api/test/echo", data="{}", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_json_api_with_json_content_type_is_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/api/test/echo",
        json={"name": "qwen2.5:7b"},
        headers={"Origin": "http://localhost"},
    )
    assert response.status_code == 200
    assert response.json == {"received": {"name": "qwen2.5:7b"}}


def test_json_api_delete_needs_no_body(client: FlaskClient) -> None:
    assert client.delete("/api/test/thing").status_code == 200


def test_oversized_body_is_refused_with_413(client: FlaskClient) -> None:
    response = client.post(
        "/api/test/echo",
        data=b"x" * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json["error"]["message"] == "Requête trop volumineuse."


def test_write_to_an_unknown_api_route_is_a_404_not_a_csrf_error(
    client: FlaskClient,
) -> None:
    response = client.post("/api/no-such-route", data="x")
    assert response.status_code == 404
