"""``/api/v1/...``: history, request statistics and hardware, with checked params."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ollama_webmgr.edge.services import get_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings
from ollama_webmgr.store.database import DatabaseManager
from ollama_webmgr.store.records import record_hardware, record_server_check
from ollama_webmgr.store.stats import update_request_stats

URL = "http://gpu-a:11434"
ADDRESS = "gpu-a:11434"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    settings = Settings(
        ollama_base_url=URL,
        ollama_servers=("http://gpu-b:11434",),
        data_dir=str(tmp_path),
        secret_key="test",
    )
    app = create_app(settings)
    yield app
    with app.app_context():
        get_services().close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _db(app: Flask) -> DatabaseManager:
    with app.app_context():
        return get_services().db


def test_history_returns_the_points_of_one_metric(
    app: Flask, client: FlaskClient
) -> None:
    db = _db(app)
    record_server_check(db, ADDRESS, healthy=True, latency_ms=5.0)
    record_server_check(db, ADDRESS, healthy=False)
    latency = client.get(
        "/api/v1/servers/history?server=gpu-a:11434&metric=latency&period=1h"
    ).json
    health = client.get(f"/api/v1/servers/history?server={URL}").json
    assert latency["server"] == "gpu-a:11434"
    assert latency["resolution"] == "raw"
    assert [(p["count"], p["avg"]) for p in latency["points"]] == [(1, 5.0)]
    assert (health["metric"], health["period"], health["resolution"]) == (
        "health",
        "24h",
        "hour",
    )
    assert [(p["count"], p["avg"]) for p in health["points"]] == [(2, 0.5)]


def test_health_report_gives_uptime_per_server(app: Flask, client: FlaskClient) -> None:
    record_server_check(_db(app), ADDRESS, healthy=True, name="gpu-a:11434")
    report = client.get("/api/v1/servers/health").json["servers"]
    assert [(s["address"], s["healthy"], s["uptime"]["24h"]) for s in report] == [
        (ADDRESS, True, 100.0)
    ]


def test_request_stats_count_requests_by_type(app: Flask, client: FlaskClient) -> None:
    db = _db(app)
    update_request_stats(db, "chat", 10.0)
    update_request_stats(db, "chat", 30.0)
    update_request_stats(db, "generate", 5.0)
    chat = client.get("/api/v1/stats/requests?period=hourly&type=chat").json
    everything = client.get("/api/v1/stats/requests").json
    assert (chat["period"], chat["days"]) == ("hourly", 1)
    assert sum(row["requests"] for row in chat["rows"]) == 2
    assert set(chat["rows"][-1]) == {"period", "timestamp", "requests"}
    assert (everything["period"], everything["type"], everything["days"]) == (
        "daily",
        "all",
        7,
    )
    last = everything["rows"][-1]
    assert (last["requests"], last["chat_requests"], last["average_latency_ms"]) == (
        3,
        2,
        15.0,
    )


def test_hardware_shows_what_agents_reported(app: Flask, client: FlaskClient) -> None:
    record_hardware(_db(app), ADDRESS, {"cpu": {"cores": 16}})
    nodes = client.get("/api/v1/nodes/hardware").json["nodes"]
    one = client.get("/api/v1/nodes/hardware?server=gpu-a:11434").json["nodes"]
    assert [(n["server"], n["hardware_info"]) for n in nodes] == [
        ("gpu-a:11434", {"cpu": {"cores": 16}}),
        ("gpu-b:11434", None),
    ]
    assert one == nodes[:1]
    assert one[0]["vram_used"] == 0


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        (
            "/api/v1/servers/history",
            400,
            "Paramètre « server » manquant : le nom ou l’adresse d’un serveur.",
        ),
        ("/api/v1/servers/history?server=nope", 404, "Serveur inconnu : « nope »."),
        (
            "/api/v1/servers/history?server=gpu-a:11434&metric=cpu",
            400,
            "Valeur « cpu » invalide pour « metric » : valeurs possibles health,"
            " latency, load, request_latency, ttft, cpu_percent, ram_percent,"
            " gpu_util, vram_used, disk_free.",
        ),
        (
            "/api/v1/servers/history?server=gpu-a:11434&period=2d",
            400,
            "Valeur « 2d » invalide pour « period » : valeurs possibles 1h, 24h, 7d,"
            " 30d, 365d.",
        ),
        (
            "/api/v1/stats/requests?period=monthly",
            400,
            "Valeur « monthly » invalide pour « period » : valeurs possibles hourly,"
            " daily, weekly.",
        ),
        (
            "/api/v1/stats/requests?type=embed",
            400,
            "Valeur « embed » invalide pour « type » : valeurs possibles all, generate,"
            " chat, embedding, other.",
        ),
        (
            "/api/v1/stats/requests?days=0",
            400,
            "« days » doit être un entier entre 1 et 400 (reçu « 0 »).",
        ),
        (
            "/api/v1/stats/requests?days=abc",
            400,
            "« days » doit être un entier entre 1 et 400 (reçu « abc »).",
        ),
        ("/api/v1/nodes/hardware?server=nope", 404, "Serveur inconnu : « nope »."),
    ],
)
def test_bad_history_parameters_get_a_clear_french_error(
    client: FlaskClient, query: str, status: int, message: str
) -> None:
    answer = client.get(query)
    assert answer.status_code == status
    assert answer.json["error"]["message"] == message
    assert answer.json["error"]["code"] == (
        "unknown_server" if status == 404 else "invalid_parameter"
    )
