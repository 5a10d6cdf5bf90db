"""The Santé, Statistiques and Matériel pages, /metrics and agents in /health."""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient
from web_support import inline_code_problems, parse

from ollama_webmgr.edge.services import EXTENSION_KEY
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.manager.model_requests import ModelRequestSink
from ollama_webmgr.manager.recording import HealthRecorder, RequestSink
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.store.database import Sample
from ollama_webmgr.store.stats import record_model_requests, record_requests

PAGES = ("/sante", "/statistiques", "/materiel")
PRIMARY = "http://localhost:11434"
#: the store keys a server's samples and documents by address, as the product writes
ADDRESS = display_address(PRIMARY)
DATE = re.compile(r"\b\d{2}/\d{2}/\d{4}\b")


def services_of(app: Flask) -> Services:
    services: Services = app.extensions[EXTENSION_KEY]
    return services


def fill(app: Flask) -> float:
    db = services_of(app).db
    now = time.time()
    db.add_samples(
        [Sample(ADDRESS, "health", now - 600 * i, float(i != 3)) for i in range(1, 30)]
        + [Sample(ADDRESS, "latency", now - 600 * i, 12.0) for i in range(1, 30)]
        + [Sample(ADDRESS, "cpu_percent", now - 600 * i, 40.0) for i in range(1, 30)]
    )
    db.insert(
        "servers",
        {
            "address": ADDRESS,
            "healthy": True,
            "agent_address": "localhost:50051",
            "hardware_info": {
                "agent": "localhost:50051",
                "collected_at": now - 10,
                "stale": False,
                "cpu": {"usage_percent": 40.0},
                "memory": {"percent": 50.0, "available": 8_000_000_000},
                "gpu": {"gpus": []},
                "disk": {"volumes": [{"label": "models", "free": 90_000_000_000}]},
            },
        },
    )
    record_requests(db, [("chat", 100.0 + i, now - 60 * i) for i in range(10)])
    record_model_requests(db, [("qwen2.5:7b", ADDRESS, 100.0, 42.0, now - 60)])
    return now


@pytest.mark.parametrize("path", PAGES)
def test_pages_explain_that_there_is_no_data_yet(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    doc = parse(response.data)
    assert doc.html is not None
    assert doc.html["lang"] == "fr"
    if path == "/materiel":
        notes = doc.select(".no-agent")
        assert len(notes) == 3
        assert "ollama-webmgr agent" in notes[0].get_text()
    else:
        assert "Pas encore" in doc.select_one("#empty-state").get_text()
    assert not inline_code_problems(doc)


@pytest.mark.parametrize("path", PAGES)
def test_pages_draw_accessible_svg_charts_with_french_dates(
    app: Flask, client: FlaskClient, path: str
) -> None:
    fill(app)
    doc = parse(client.get(f"{path}?period=7j").data)
    svgs = doc.select("svg.chart")
    assert svgs, path
    for svg in svgs:
        assert svg["role"] == "img"
        title = svg.find("title")
        assert title is not None
        assert title.get_text()
        assert title["id"] in svg["aria-labelledby"]
        assert svg.get("viewbox")
        assert svg["width"] == "100%"
        assert svg.find_parent("figure").select_one("details table") is not None
    labels = [t.get_text() for t in doc.select("svg.chart text")]
    assert any(DATE.fullmatch(label) for label in labels), labels
    assert not inline_code_problems(doc)


def test_health_page_shows_uptime_and_an_incident(
    app: Flask, client: FlaskClient
) -> None:
    fill(app)
    doc = parse(client.get("/sante?period=24h").data)
    first = doc.select_one("#uptime tbody tr")
    assert first.th.get_text() == "localhost:11434"
    assert "en ligne" in first.get_text()
    assert "96,55 %" in first.get_text()  # 28 of 29 checks passed
    incident = doc.select_one("#incidents li").get_text()
    assert "résolu" in incident
    assert "Durée : 10 min" in incident
    assert DATE.search(incident)
    labels = [t.get_text() for t in doc.select("#chart-sante text")]
    assert any(re.fullmatch(r"\d{2}:\d{2}", label) for label in labels)


def test_statistics_page_lists_percentiles_and_top_models(
    app: Flask, client: FlaskClient
) -> None:
    fill(app)
    doc = parse(client.get("/statistiques").data)
    chat = doc.select("#totals tbody tr")[1].get_text(" ", strip=True)
    assert chat.startswith("Chat 10")
    assert "104 ms" in chat
    assert "109 ms" in chat
    model = [c.get_text() for c in doc.select_one("#models tbody tr").select("th, td")]
    assert model == ["qwen2.5:7b", "1", "100 ms", "42"]
    assert doc.select_one("#chart-modeles figcaption").get_text().startswith("Modèles")


def test_hardware_page_shows_the_node_now(app: Flask, client: FlaskClient) -> None:
    fill(app)
    doc = parse(client.get("/materiel?server=localhost:11434").data)
    text = doc.select_one("dl").get_text(" ", strip=True).replace("\xa0", " ")
    assert "40 %" in text
    assert "8 Go libres" in text
    assert "90 Go" in text
    assert len(doc.select("section.card")) == 1  # the server filter applies
    assert doc.select_one("#chart-hw-0-cpu_percent") is not None


def test_period_selector_and_navigation(client: FlaskClient) -> None:
    doc = parse(client.get("/statistiques?period=30j").data)
    current = doc.select_one('form[aria-label="Filtres"] a[aria-current]')
    assert current.get_text() == "30 jours"
    assert doc.select_one("#nav-supervision")["aria-current"] == "page"
    # an unknown period falls back to 24 h rather than failing
    doc = parse(client.get("/statistiques?period=1an").data)
    assert doc.select_one('a[aria-current="true"]').get_text() == "24 h"
    bottom = doc.select('nav[aria-label="Navigation principale"] li')
    assert len(bottom) == 5


def test_health_lists_agents_as_reachable_or_stale(
    app: Flask, client: FlaskClient
) -> None:
    fill(app)
    db = services_of(app).db
    db.insert(
        "servers",
        {
            "address": "gpu-a:11434",
            "agent_address": "gpu-a:50051",
            "hardware_info": {"stale": True, "last_error": "connexion refusée"},
        },
    )
    response = client.get("/health")
    body = response.get_json()
    # A stale agent does not make the app unhealthy (the test's Ollama servers
    # do not exist, so the status is "degraded", never "error").
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert all(not entry["ok"] for entry in body["checks"]["ollama"])
    agents = body["agents"]
    assert agents["localhost:11434"]["state"] == "reachable"
    assert agents["gpu-a:11434"] == {
        "agent": "gpu-a:50051",
        "state": "stale",
        "collected_at": None,
        "last_error": "connexion refusée",
    }


def test_metrics_expose_http_requests_by_route(client: FlaskClient) -> None:
    client.get("/sante")
    client.get("/sante")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    assert (
        'webmgr_http_requests_total{method="GET",route="/sante",status="200"} 2.0'
        in text
    )
    for name in (
        "webmgr_pulls_total",
        "webmgr_jobs_total",
        "webmgr_job_duration_seconds",
        "webmgr_jobs_active",
        "webmgr_http_request_duration_seconds_bucket",
    ):
        assert f"# TYPE {name.removesuffix('_total').removesuffix('_bucket')}" in text


def test_pages_show_what_the_running_product_records(
    app: Flask, client: FlaskClient
) -> None:
    """The health recorder and the gateway's request sinks write, the pages read:
    both must name a server the same way (its address), whatever its name."""
    services = services_of(app)
    server = services.servers.all()[0]
    services.servers.rename(server.name, "gpu-salon")
    server = services.servers.get("gpu-salon")
    HealthRecorder(services.db)(server, True, 12.0)
    HealthRecorder(services.db)(server, False, 0.0)
    now = time.time()
    records = [
        RequestRecord(
            now - i,
            "POST",
            "/api/chat",
            "chat",
            "qwen2.5:7b",
            "gpu-salon",
            200,
            2100.0,
            100.0,
            10,
            80,
            10,
            10,
            1,
            None,
        )
        for i in range(3)
    ]
    RequestSink(services.db, services.servers)(records)
    ModelRequestSink(services.db, services.servers)(records)

    health = parse(client.get("/sante").data)
    assert health.select_one("#empty-state") is None
    row = health.select_one("#uptime tbody tr").get_text(" ", strip=True)
    assert row.startswith("gpu-salon")
    assert "50 %" in row
    assert health.select("#incidents li"), "the failed check is an incident"
    stats = parse(client.get("/statistiques?server=gpu-salon").data)
    [line] = stats.select("#per-server tbody tr")
    cells = [c.get_text(strip=True) for c in line.select("th, td")]
    assert cells[:2] == ["gpu-salon", "3"], cells
    assert cells[4] == "40", cells  # 80 tokens in 2 s after the first one
