"""ADMIN_PASSWORD: HTTP Basic on the whole app, the user kept in the audit trail."""

from __future__ import annotations

import base64

from web_support import make_app

from ollama_webmgr.edge.services import EXTENSION_KEY
from ollama_webmgr.store.database import Where


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_without_a_password_the_app_is_open() -> None:
    assert make_app().test_client().get("/").status_code == 200


def test_pages_and_api_need_the_password() -> None:
    client = make_app(admin_password="s3cret").test_client()
    page = client.get("/")
    assert page.status_code == 401
    assert page.headers["WWW-Authenticate"].startswith('Basic realm="ollama-webmgr"')
    api = client.get("/api/jobs")
    assert api.status_code == 401
    assert api.json["error"]["code"] == "unauthorized"
    assert api.json["error"]["message"].startswith("Identification requise")
    wrong = client.get("/", headers=_basic("admin", "nope"))
    assert wrong.status_code == 401
    assert client.get("/", headers=_basic("admin", "s3cret")).status_code == 200


def test_health_and_pwa_files_stay_open_for_probes_and_browsers() -> None:
    client = make_app(admin_password="s3cret").test_client()
    for path in ("/health", "/manifest.json", "/service-worker.js", "/offline"):
        assert client.get(path).status_code in (200, 503), path


def test_the_audit_trail_names_the_user() -> None:
    app = make_app(admin_password="s3cret")
    client = app.test_client()
    answer = client.post(
        "/api/servers/test",
        json={"url": "http://127.0.0.1:9"},
        headers=_basic("alice", "s3cret"),
    )
    assert answer.status_code != 401
    name = app.extensions[EXTENSION_KEY].servers.all()[0].name
    client.put(
        f"/api/servers/{name}/agent",
        json={"agent": "gpu-a:50051"},
        headers=_basic("alice", "s3cret"),
    )
    db = app.extensions[EXTENSION_KEY].db
    [entry] = db.find("audit", [Where("action", "==", "server_agent")])
    assert entry["who"] == "alice@127.0.0.1"
