"""CORS on the gateway, as Ollama answers it: built-in origins, configured ones,
403 for the others, 204 preflights; the servers never see the ``Origin``."""

from __future__ import annotations

import httpx
import pytest
from gateway_fakes import Node

CHAT = {"model": "llama3.2", "stream": False}


def test_requests_without_origin_get_no_cors_headers(make_fleet):
    fleet = make_fleet(Node("a"))
    response = httpx.post(fleet.url + "/api/chat", json=CHAT)
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost",
        "http://localhost:5173",
        "https://127.0.0.1:8443",
        "http://0.0.0.0:3000",
        "app://obsidian.md",
        "file://",
        "tauri://localhost",
        "vscode-webview://abc123",
        "vscode-file://vscode-app",
    ],
)
def test_ollamas_built_in_origins_are_allowed(make_fleet, origin):
    fleet = make_fleet(Node("a"))
    response = httpx.post(
        fleet.url + "/api/chat", json=CHAT, headers={"Origin": origin}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["vary"] == "Origin"
    assert response.headers["x-ollama-server"] == "a"
    assert "origin" not in fleet.nodes["a"].seen[-1]["headers"]


def test_a_streamed_answer_and_an_error_carry_the_headers_too(make_fleet):
    fleet = make_fleet(Node("a"))
    origin = {"Origin": "http://localhost:3000"}
    with httpx.stream(
        "POST", fleet.url + "/api/generate", json={"model": "llama3.2"}, headers=origin
    ) as response:
        assert response.headers["access-control-allow-origin"] == origin["Origin"]
        assert len(list(response.iter_lines())) == 4
    missing = httpx.post(
        fleet.url + "/api/chat", json={"model": "nope"}, headers=origin
    )
    assert missing.status_code == 404
    assert missing.json() == {"error": "model 'nope' not found"}
    assert missing.headers["access-control-allow-origin"] == origin["Origin"]


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS", "HEAD"])
def test_other_origins_get_403_with_an_empty_body(make_fleet, method):
    fleet = make_fleet(Node("a"))
    response = httpx.request(
        method,
        fleet.url + "/api/tags",
        headers={"Origin": "https://chat.example.com"},
    )
    assert response.status_code == 403
    assert response.content == b""
    assert "access-control-allow-origin" not in response.headers
    assert fleet.nodes["a"].seen == []


def test_an_allowed_preflight_gets_204_with_ollamas_lists(make_fleet):
    fleet = make_fleet(Node("a"))
    response = httpx.options(
        fleet.url + "/v1/chat/completions",
        headers={
            "Origin": "http://localhost:8080",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:8080"
    assert response.headers["access-control-allow-methods"] == (
        "GET,POST,PUT,PATCH,DELETE,HEAD"
    )
    allowed = response.headers["access-control-allow-headers"].split(",")
    assert {"Authorization", "Content-Type", "X-Stainless-Os"} <= set(allowed)
    assert response.headers["access-control-max-age"] == "43200"
    assert fleet.nodes["a"].seen == []


def test_a_preflight_needs_no_api_key(make_fleet):
    fleet = make_fleet(Node("a"), api_key_hashes={"0" * 64})
    preflight = httpx.options(
        fleet.url + "/api/chat", headers={"Origin": "http://localhost:8080"}
    )
    assert preflight.status_code == 204
    refused = httpx.post(
        fleet.url + "/api/chat", json=CHAT, headers={"Origin": "http://localhost:8080"}
    )
    assert refused.status_code == 401
    # the browser can read the 401: it carries the CORS headers
    assert refused.headers["access-control-allow-origin"] == "http://localhost:8080"


def test_configured_origins_apply_at_once(make_fleet):
    fleet = make_fleet(Node("a"))
    origin = {"Origin": "https://chat.example.com"}
    assert httpx.get(fleet.url + "/api/version", headers=origin).status_code == 403
    fleet.gateway.config.update(origins=("https://*.example.com",))
    allowed = httpx.get(fleet.url + "/api/version", headers=origin)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://chat.example.com"
    other = httpx.get(
        fleet.url + "/api/version", headers={"Origin": "https://example.org"}
    )
    assert other.status_code == 403
    fleet.gateway.config.update(origins=("*",))
    anyone = httpx.get(fleet.url + "/api/version", headers={"Origin": "http://x.test"})
    assert anyone.status_code == 200
    assert anyone.headers["access-control-allow-origin"] == "*"
    assert "vary" not in anyone.headers


def test_the_gateways_own_origin_is_not_cross_origin(make_fleet):
    fleet = make_fleet(Node("a"))
    host = fleet.url.removeprefix("http://")
    fleet.gateway.config.update(origins=())
    response = httpx.get(
        fleet.url + "/api/version", headers={"Origin": f"http://{host}"}
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_invalid_origin_patterns_are_refused():
    from ollama_webmgr.gateway.config import GatewayConfig

    for bad in (["example.com"], ["https://*.*.example.com"], "https://x"):
        with pytest.raises(ValueError, match="origins"):
            GatewayConfig().update(origins=bad)


CORS_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
    "vary",
)


@pytest.mark.parametrize(
    ("method", "origin", "extra"),
    [
        ("GET", "http://localhost:3000", ()),
        ("OPTIONS", "http://localhost:3000", ()),
        ("GET", "https://chat.example.com", ()),
        ("OPTIONS", "https://chat.example.com", ()),
        ("GET", "https://chat.example.com", ("https://*.example.com",)),
        ("OPTIONS", "http://x.test", ("*",)),
    ],
)
def test_the_gateway_answers_cors_as_an_emulated_ollama_does(
    sim_fleet, method, origin, extra
):
    sim_fleet.states["n1"].origins = extra
    sim_fleet.gateway.config.update(origins=extra)
    headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    direct = httpx.request(method, sim_fleet.urls["n1"] + "/api/tags", headers=headers)
    through = httpx.request(method, sim_fleet.url + "/api/tags", headers=headers)
    assert through.status_code == direct.status_code
    for name in CORS_HEADERS:
        assert through.headers.get(name) == direct.headers.get(name), name
    if direct.status_code != 200:
        assert through.content == direct.content == b""
