from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from api_support import REDIS_URL, services
from flask.testing import FlaskClient

from fleet_support import fleet_settings
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet


def test_health_is_ok_when_every_server_answers(
    fleet: EmulatedFleet, client: FlaskClient
) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok"
    assert body["checks"]["store"]["ok"] is True
    assert "redis" not in body["checks"]  # not configured
    ollama = body["checks"]["ollama"]
    assert [c["url"] for c in ollama] == fleet.urls
    assert all(c["ok"] and c["version"] and c["latency_ms"] >= 0 for c in ollama)


def test_a_down_server_makes_health_degraded_but_200(
    client: FlaskClient,
) -> None:
    services(client.application).servers.add(Server("dead", "http://127.0.0.1:9"))
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json["status"] == "degraded"
    dead = response.json["checks"]["ollama"][-1]
    assert dead["ok"] is False
    assert "error" in dead


def test_a_dead_store_is_a_503(client: FlaskClient) -> None:
    store = services(client.application)
    store.db.close()  # drops pooled connections: the next query must reopen
    shutil.rmtree(store.settings.data_path)  # ...and cannot, the folder is gone
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert response.json["checks"]["store"]["ok"] is False


def test_redis_is_pinged_when_configured(
    fleet: EmulatedFleet, tmp_path: Path, redis_conn: Any
) -> None:
    up = create_app(fleet_settings(fleet, tmp_path / "up", redis_url=REDIS_URL))
    down = create_app(
        fleet_settings(fleet, tmp_path / "down", redis_url="redis://127.0.0.1:9/0")
    )
    try:
        ok = up.test_client().get("/health")
        failed = down.test_client().get("/health")
    finally:
        services(up).close()
        services(down).close()
    assert ok.status_code == 200
    assert ok.json["checks"]["redis"]["ok"] is True
    assert failed.status_code == 503
    assert failed.json["checks"]["redis"]["ok"] is False
