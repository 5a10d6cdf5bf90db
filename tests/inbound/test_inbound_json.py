"""JSON nested 5,000 deep: a clean 400 on every route of both ports that
parses JSON, never a 500 (``RecursionError``). The web app's routes are found
in its URL map, the gateway's are every route it reads a JSON body on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from inbound_support import Served, exchange

from ollama_webmgr.gateway.routes import ROUTES
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings

DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _request(method: str, path: str, body: bytes) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _web_json_routes(tmp_path: Path) -> list[tuple[str, str]]:
    app = create_app(Settings(data_dir=str(tmp_path), secret_key="t"))
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", rule.rule)
        routes += [(m, path) for m in sorted((rule.methods or set()) & WRITES)]
    return routes


def test_every_json_route_of_the_web_app_answers_400(
    served: Served, tmp_path: Path
) -> None:
    routes = _web_json_routes(tmp_path)
    assert len(routes) >= 10
    statuses = {}
    for method, path in routes:
        answers, _ = exchange(served.web, _request(method, path, DEEP))
        statuses[(method, path)] = answers[0].status
        assert b"Traceback" not in answers[0].body
    assert all(s < 500 for s in statuses.values()), statuses
    # every route that reaches its body says so; the others refuse first (404)
    assert sum(s == 400 for s in statuses.values()) >= len(routes) // 2, statuses


# a route taken whatever the method (a path alone in the table) is tried as a POST
GATEWAY_JSON = sorted(
    {("POST", key) for key in ROUTES if isinstance(key, str)}
    | {key for key in ROUTES if isinstance(key, tuple) and key[0] in WRITES}
    | {("POST", "/api/unknown-route")}
)


@pytest.mark.parametrize(("method", "path"), GATEWAY_JSON)
def test_every_json_route_of_the_gateway_answers_400(
    served: Served, method: str, path: str
) -> None:
    answers, _ = exchange(served.gateway, _request(method, path, DEEP))
    assert [a.status for a in answers] == [400]
    body = json.loads(answers[0].body)
    text = body["error"]["message"] if path.startswith("/v1/") else body["error"]
    assert text == "invalid JSON: nested too deeply"
