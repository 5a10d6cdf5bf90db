"""Close and reopen: everything written before is still there, on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from ollama_webmgr.edge.database import get_db, init_db
from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import DatabaseManager, Sample, Where
from ollama_webmgr.store.stats import aggregate_stats, update_request_stats


def test_data_survives_close_and_reopen(
    db: DatabaseManager, reopen: Callable[[], DatabaseManager]
) -> None:
    server = db.insert("servers", {"address": "a:11434", "healthy": True, "load": 0.5})
    db.upsert("config", ["key"], {"key": "load_balancing", "value": {"policy": "lru"}})
    job = db.insert("jobs", {"kind": "pull", "model": "llama3", "state": "done"})
    db.add_samples([Sample("a:11434", "health", 1000.0 + i, 1.0) for i in range(10)])
    update_request_stats(db, "chat", 12.0, ts=5000.0)
    aggregated = aggregate_stats(db, "hourly", now=9000.0)
    before = {t: db.find(t) for t in ("servers", "config", "jobs", "request_stats")}
    db.close()

    again = reopen()
    try:
        assert {t: again.find(t) for t in before} == before
        assert again.get("servers", server)["load"] == 0.5  # type: ignore[index]
        assert again.get("jobs", job)["state"] == "done"  # type: ignore[index]
        assert again.find("config", [Where("key", "==", "load_balancing")])
        assert again.get("request_stats", aggregated["id"]) == aggregated
        assert again.series_counts()["server_stats"] == 11
        assert again.oldest_sample() == 1000.0
    finally:
        again.close()


@pytest.mark.parametrize("store_url", ["tinydb"], indirect=True)
def test_tinydb_file_refuses_a_second_opener(
    db: DatabaseManager, reopen: Callable[[], DatabaseManager]
) -> None:
    with pytest.raises(StoreError, match="already open"):
        reopen()
    db.close()
    reopen().close()
    with pytest.raises(StoreError, match="closed"):
        db.count("jobs")


def test_flask_app_keeps_one_database_in_its_extensions(db: DatabaseManager) -> None:
    app, other = Flask("one"), Flask("two")
    init_db(app, db)
    with app.app_context():
        assert get_db() is db
    with other.app_context(), pytest.raises(StoreError, match="init_db"):
        get_db()
