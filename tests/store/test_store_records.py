"""Domain writers: server checks, hardware, model map, jobs, audit (every backend)."""

from __future__ import annotations

from ollama_webmgr.store.database import DatabaseManager, Where
from ollama_webmgr.store.records import (
    record_audit,
    record_hardware,
    record_job,
    record_model_map,
    record_model_use,
    record_server_check,
)
from ollama_webmgr.store.stats import get_health_report

NOW = 1_763_798_400.0


def test_server_checks_keep_first_seen_and_feed_the_health_report(
    db: DatabaseManager,
) -> None:
    first = record_server_check(db, "a:1", healthy=True, latency_ms=5.0, ts=NOW - 60)
    second = record_server_check(db, "a:1", healthy=False, load=0.7, ts=NOW - 30)
    assert second["id"] == first["id"]
    assert second["first_seen"] == first["first_seen"]
    assert second["healthy"] is False
    assert second["load"] == 0.7
    assert second["last_check"] >= first["last_check"]
    assert db.count("servers") == 1
    [report] = get_health_report(db, now=NOW)
    assert report["uptime"]["24h"] == 50.0
    assert db.series_counts()["server_stats"] == 4  # 2 health, 1 latency, 1 load


def test_hardware_is_stored_on_the_server_document(db: DatabaseManager) -> None:
    record_server_check(db, "a:1", healthy=True, ts=NOW)
    saved = record_hardware(db, "a:1", {"cpu": {"cores": 16}, "gpu": []})
    assert saved["hardware_info"] == {"cpu": {"cores": 16}, "gpu": []}
    assert saved["healthy"] is True


def test_model_map_tracks_servers_digests_and_usage(db: DatabaseManager) -> None:
    record_model_map(db, "llama3:8b", {"b:1": "sha-b", "a:1": "sha-a"}, size=4_700)
    record_model_use(db, "llama3:8b")
    record_model_use(db, "llama3:8b")
    record_model_use(db, "unknown")  # not an error: nothing to count
    saved = record_model_map(db, "llama3:8b", {"a:1": "sha-new"})
    assert saved["servers"] == ["a:1"]
    assert saved["digests"] == {"a:1": "sha-new"}
    assert saved["usage_count"] == 2
    assert saved["size"] == 4_700
    assert "last_used" in saved


def test_jobs_record_their_final_state_and_audit_appends(db: DatabaseManager) -> None:
    record_job(db, "job-1", "pull", "running", model="llama3")
    done = record_job(db, "job-1", "pull", "done")
    assert done["model"] == "llama3"
    assert "finished_at" in done
    assert db.count("jobs", [Where("state", "==", "done")]) == 1
    record_audit(db, "admin", "eject", "llama3", {"server": "a:1"})
    [entry] = db.find("audit")
    assert (entry["who"], entry["action"], entry["details"]) == (
        "admin",
        "eject",
        {"server": "a:1"},
    )
