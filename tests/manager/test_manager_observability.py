"""View data of the supervision pages, from series stored in SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_webmgr.store.database import DatabaseManager, Sample, open_database
from ollama_webmgr.store.stats import record_model_requests, record_requests
from ollama_webmgr.usecases.observability import (
    node_hardware,
    request_stats,
    server_health,
    window,
)

HOUR, DAY = 3600.0, 86400.0
NOW = 1_763_798_400.0 + 12 * HOUR  # 2025-11-22 12:00 UTC
A, B = "http://gpu-a:11434", "http://gpu-b:11434"
SERVERS = [("gpu-a", A), ("gpu-b", B)]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DatabaseManager]:
    database = open_database(f"sqlite:///{tmp_path / 'obs.sqlite3'}")
    yield database
    database.close()


def fill_health(db: DatabaseManager) -> None:
    """a: a check every 10 min for 24 h, down from -5 h to -4 h10 (6 checks), up
    again at -4 h; 10 days ago 2 failed checks out of 6. b: down since -10 min."""
    samples = [
        Sample(A, "health", NOW - i * 600, 0.0 if 25 <= i <= 30 else 1.0)
        for i in range(1, 145)
    ]
    samples += [
        Sample(A, "health", NOW - 10 * DAY + k * 600, 0.0 if k in (1, 2) else 1.0)
        for k in range(6)
    ]
    samples += [Sample(A, "latency", NOW - i * 600, 20.0 + i % 2) for i in range(1, 7)]
    samples += [
        Sample(B, "health", NOW - 1200, 1.0),
        Sample(B, "health", NOW - 600, 0.0),
        Sample(B, "health", NOW - 60, 0.0),
    ]
    db.add_samples(samples)
    db.insert("servers", {"address": A, "healthy": True, "last_check": "x"})
    db.insert(
        "servers",
        {"address": B, "healthy": False, "last_error": "connexion refusée"},
    )


def test_uptime_per_window_is_the_share_of_passed_checks(db: DatabaseManager) -> None:
    fill_health(db)
    rows = {r.name: r for r in server_health(db, SERVERS, window("24h", NOW))}
    a = rows["gpu-a"]
    assert a.uptime["24h"] == pytest.approx(100 * 138 / 144)
    assert a.uptime["7j"] == pytest.approx(100 * 138 / 144)
    assert a.uptime["30j"] == pytest.approx(100 * 142 / 150)
    assert rows["gpu-b"].uptime["24h"] == pytest.approx(100 / 3)
    assert a.healthy is True
    assert rows["gpu-b"].healthy is False


def test_incidents_have_start_end_duration_and_cause(db: DatabaseManager) -> None:
    fill_health(db)
    rows = {r.name: r for r in server_health(db, SERVERS, window("24h", NOW))}
    [past] = rows["gpu-a"].incidents
    assert (past.start, past.end, past.checks) == (NOW - 5 * HOUR, NOW - 4 * HOUR, 6)
    assert past.duration(NOW) == HOUR
    assert past.cause == ""
    [current] = rows["gpu-b"].incidents
    assert (current.start, current.end, current.checks) == (NOW - 600, None, 2)
    assert current.duration(NOW) == 600
    assert current.cause == "connexion refusée"


def test_thirty_day_window_also_finds_the_old_incident(db: DatabaseManager) -> None:
    fill_health(db)
    rows = {r.name: r for r in server_health(db, SERVERS, window("30j", NOW))}
    spans = [(i.start, i.end) for i in rows["gpu-a"].incidents]
    assert spans == [
        (NOW - 10 * DAY + 600, NOW - 10 * DAY + 1800),
        (NOW - 5 * HOUR, NOW - 4 * HOUR),
    ]


def test_health_and_latency_series_are_hourly_points(db: DatabaseManager) -> None:
    fill_health(db)
    a = server_health(db, SERVERS, window("24h", NOW))[0]
    by_hour = dict(a.health_points)
    assert by_hour[NOW - 5 * HOUR] == 0.0  # -5 h .. -4 h10: all 6 checks failed
    assert by_hour[NOW - 4 * HOUR] == 100.0
    assert a.latency_points == [(NOW - HOUR, pytest.approx(20.5))]


def test_request_stats_totals_percentiles_models_and_servers(
    db: DatabaseManager,
) -> None:
    record_requests(
        db, [("chat", float(ms), NOW - 2 * HOUR + ms) for ms in range(1, 21)]
    )
    record_requests(db, [("generate", 1000.0, NOW - 30 * HOUR)])  # outside 24 h
    record_model_requests(
        db,
        [("qwen2.5:7b", A, 300.0, 30.0, NOW - HOUR)] * 2
        + [("smollm2:135m", B, 50.0, 90.0, NOW - HOUR)],
    )
    db.add_samples([Sample(A, "request_latency", NOW - 100, v) for v in (10, 20, 30)])

    stats = request_stats(db, SERVERS, window("24h", NOW))

    assert stats.totals == {"generate": 0, "chat": 20, "embedding": 0, "other": 0}
    assert stats.percentiles["chat"] == {"count": 20, "p50": 10.0, "p95": 19.0}
    assert [m["model"] for m in stats.models] == ["qwen2.5:7b", "smollm2:135m"]
    assert stats.models[0]["tokens_per_s"] == 30.0
    a, b = stats.servers
    assert (a["requests"], a["p50"], a["p95"], a["tokens_per_s"]) == (3, 20, 30, 30.0)
    assert (b["requests"], b["tokens_per_s"]) == (0, 90.0)
    assert sum(row["chat_requests"] for row in stats.per_bucket) == 20
    week = request_stats(db, SERVERS, window("7j", NOW))
    assert week.totals["generate"] == 1


def test_node_hardware_gives_last_report_series_and_staleness(
    db: DatabaseManager,
) -> None:
    info = {
        "agent": "gpu-a:50051",
        "collected_at": NOW - 30,
        "stale": False,
        "memory": {"available": 8_000_000_000, "percent": 50.0},
    }
    db.insert(
        "servers", {"address": A, "agent_address": "gpu-a:50051", "hardware_info": info}
    )
    db.insert(
        "servers",
        {
            "address": B,
            "agent_address": "gpu-b:50051",
            "hardware_info": {**info, "stale": True, "last_error": "x"},
        },
    )
    # an agent taken away leaves its last report: the node has no agent any more
    db.insert(
        "servers",
        {"address": "gone:11434", "agent_address": None, "hardware_info": info},
    )
    db.add_samples([Sample(A, "cpu_percent", NOW - 600 * i, 10.0 * i) for i in (1, 2)])

    a, b = node_hardware(db, SERVERS, window("24h", NOW))

    assert a.has_agent
    assert a.agent == "gpu-a:50051"
    assert a.answered
    [gone] = node_hardware(db, [("gone", "gone:11434")], window("24h", NOW))
    assert not gone.has_agent
    assert not a.stale
    assert b.stale
    assert a.series["cpu_percent"] == [(NOW - HOUR, 15.0)]
    assert a.series["gpu_util"] == []
