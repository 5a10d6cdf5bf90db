"""Health samples, retention and request statistics, on every backend."""

from __future__ import annotations

import datetime as dt

import pytest

from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import DatabaseManager, Sample
from ollama_webmgr.store.stats import (
    aggregate_stats,
    cleanup_old_stats,
    get_health_report,
    get_historical_stats,
    get_stats_snapshot,
    health_series,
    period_start,
    record_requests,
    record_samples,
    run_maintenance,
    stored_stats,
    update_request_stats,
)

DAY = 86400.0
NOW = 1_763_798_400.0 + 12 * 3600  # 2025-11-22 12:00 UTC, a Saturday


def test_health_report_gives_last_state_and_uptime_windows(db: DatabaseManager) -> None:
    db.insert("servers", {"address": "a:1", "healthy": True, "last_check": "t1"})
    db.insert("servers", {"address": "b:1", "healthy": False, "last_check": "t2"})
    db.insert("servers", {"address": "c:1", "healthy": None})
    # a: up for the last day, down 3 of the 4 samples 10 days ago
    samples = [Sample("a:1", "health", NOW - i * 600, 1.0) for i in range(144)]
    samples += [
        Sample("a:1", "health", NOW - 10 * DAY + i, float(i == 0)) for i in range(4)
    ]
    samples += [Sample("b:1", "health", NOW - 60, 0.0)]
    assert record_samples(db, samples) == len(samples)

    report = {r["address"]: r for r in get_health_report(db, now=NOW)}
    assert report["a:1"]["healthy"] is True
    assert report["a:1"]["last_check"] == "t1"
    assert report["a:1"]["uptime"]["24h"] == 100.0
    assert report["a:1"]["uptime"]["7d"] == 100.0
    assert report["a:1"]["uptime"]["30d"] == round(100 * 145 / 148, 2)
    assert report["b:1"]["uptime"]["24h"] == 0.0
    assert report["c:1"]["uptime"] == {"24h": None, "7d": None, "30d": None}


def test_health_series_reads_the_window_at_its_resolution(db: DatabaseManager) -> None:
    record_samples(
        db, [Sample("a", "latency", NOW - i * 60, 10.0 + i) for i in range(180)]
    )
    last_hour = health_series(db, "a", "latency", "1h", now=NOW)
    assert len(last_hour) == 61  # raw, one per minute, both ends included
    day = health_series(db, "a", "latency", "24h", now=NOW)
    assert sum(p.count for p in day) == 180
    assert len(day) == 4  # hour buckets
    with pytest.raises(StoreError, match="period"):
        health_series(db, "a", "latency", "2w")


def test_cleanup_old_stats_keeps_recent_raw_samples_and_rollups(
    db: DatabaseManager,
) -> None:
    old = [Sample("a", "load", NOW - 40 * DAY + i, 1.0) for i in range(5)]
    recent = [Sample("a", "load", NOW - i, 1.0) for i in range(3)]
    record_samples(db, old + recent)
    removed = cleanup_old_stats(db, days_to_keep=30, now=NOW)
    assert removed == {"server_stats": 5, "server_stats_hourly": 0}
    assert db.series_counts()["server_stats"] == 3
    # the 30-day-old hour is still charted from its rollup
    month = health_series(db, "a", "load", "365d", now=NOW)
    assert sum(p.count for p in month) == 8
    with pytest.raises(StoreError):
        cleanup_old_stats(db, days_to_keep=0)


def test_request_stats_snapshot_counts_by_type_with_mean_latency(
    db: DatabaseManager,
) -> None:
    update_request_stats(db, "generate", 100.0, ts=NOW - 10)
    update_request_stats(db, "chat", 300.0, ts=NOW - 3600)
    record_requests(db, [("embedding", 20.0, NOW - 5), ("chat", 100.0, NOW - 2 * DAY)])
    snap = get_stats_snapshot(db, now=NOW)
    assert snap["total_requests"] == 3
    assert snap["generate_requests"] == 1
    assert snap["chat_requests"] == 1
    assert snap["embedding_requests"] == 1
    assert snap["average_latency_ms"] == 140.0
    with pytest.raises(StoreError, match="request type"):
        update_request_stats(db, "dance")


def test_aggregate_stats_upserts_the_last_complete_period(db: DatabaseManager) -> None:
    hour = period_start(NOW, "hourly")
    record_requests(db, [("chat", 50.0, hour - 100), ("chat", 150.0, hour - 200)])
    record_requests(db, [("chat", 999.0, hour + 5)])  # current hour: not yet
    first = aggregate_stats(db, "hourly", now=NOW)
    assert first["timestamp"] == hour - 3600
    assert first["chat_requests"] == 2
    assert first["average_latency_ms"] == 100.0
    again = aggregate_stats(db, "hourly", now=NOW)
    assert again["id"] == first["id"]
    assert [d["id"] for d in stored_stats(db, "hourly", 0)] == [first["id"]]


def test_historical_stats_give_one_row_per_period(db: DatabaseManager) -> None:
    record_requests(
        db, [("generate", 10.0, NOW - d * DAY) for d in range(10) for _ in range(d + 1)]
    )
    daily = get_historical_stats(db, "daily", days=3, now=NOW)
    assert [row["timestamp"] for row in daily] == [
        period_start(NOW - d * DAY, "daily") for d in (3, 2, 1, 0)
    ]
    assert [row["generate_requests"] for row in daily] == [4, 3, 2, 1]
    weekly = get_historical_stats(db, "weekly", days=14, now=NOW)
    assert sum(row["total_requests"] for row in weekly) == sum(range(1, 11))
    assert all(period_start(r["timestamp"], "weekly") == r["timestamp"] for r in weekly)
    hourly = get_historical_stats(db, "hourly", days=1, now=NOW)
    assert len(hourly) == 25


def test_maintenance_rolls_up_requests_and_applies_retention(
    db: DatabaseManager,
) -> None:
    record_requests(db, [("chat", 10.0, NOW - 2 * DAY), ("chat", 10.0, NOW - 50 * DAY)])
    removed = run_maintenance(db, days_to_keep=30, now=NOW)
    assert removed["server_stats"] == 1
    periods = sorted(d["period"] for d in db.find("request_stats"))
    assert periods == ["daily", "hourly", "weekly"]
    assert run_maintenance(db, days_to_keep=30, now=NOW)["server_stats"] == 0
    assert db.count("request_stats") == 3  # upserted, not duplicated


def test_maintenance_prunes_old_finished_jobs_only(db: DatabaseManager) -> None:
    def iso(ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="microseconds")

    db.insert(
        "jobs", {"id": "old", "state": "done", "finished_at": iso(NOW - 31 * DAY)}
    )
    db.insert("jobs", {"id": "new", "state": "failed", "finished_at": iso(NOW - DAY)})
    db.insert("jobs", {"id": "running", "state": "running"})
    assert run_maintenance(db, days_to_keep=30, now=NOW)["jobs"] == 1
    assert sorted(d["id"] for d in db.find("jobs")) == ["new", "running"]
