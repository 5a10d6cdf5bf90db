"""Latency percentiles and per-model figures, on every backend."""

from __future__ import annotations

from ollama_webmgr.store.database import DatabaseManager, Sample
from ollama_webmgr.store.stats import (
    latency_percentiles,
    model_totals,
    record_model_requests,
    record_requests,
    request_percentiles,
)

NOW = 1_763_798_400.0 + 12 * 3600  # 2025-11-22 12:00 UTC


def test_request_percentiles_per_type_use_raw_samples_of_the_window(
    db: DatabaseManager,
) -> None:
    # chat: 1..100 ms within the hour; generate: one old request outside the window
    record_requests(db, [("chat", float(ms), NOW - ms) for ms in range(1, 101)])
    record_requests(db, [("generate", 5000.0, NOW - 3 * 86400)])

    result = request_percentiles(db, NOW - 86400, NOW + 1)

    assert result["chat"] == {"count": 100, "p50": 50.0, "p95": 95.0}
    assert result["generate"] == {"count": 0, "p50": None, "p95": None}
    assert result["all"]["count"] == 100
    wide = request_percentiles(db, NOW - 7 * 86400, NOW + 1)
    assert wide["all"] == {"count": 101, "p50": 51.0, "p95": 96.0}


def test_latency_percentiles_of_one_server_ignore_the_others(
    db: DatabaseManager,
) -> None:
    db.add_samples(
        [Sample("a:1", "request_latency", NOW - i, 10.0 * i) for i in range(1, 21)]
        + [Sample("b:1", "request_latency", NOW - 5, 99_999.0)]
    )
    assert latency_percentiles(db, ["a:1"], "request_latency", NOW - 60, NOW) == {
        "count": 20,
        "p50": 100.0,
        "p95": 190.0,
    }


def test_model_totals_rank_models_by_requests_with_mean_speed(
    db: DatabaseManager,
) -> None:
    rows = [("qwen2.5:7b", "a:1", 200.0, 40.0, NOW - 60)] * 3
    rows += [("qwen2.5:7b", "a:1", 400.0, 20.0, NOW - 120)]
    rows += [("llama3.2:3b", "b:1", 100.0, None, NOW - 30)]  # an embedding: no rate
    rows += [("old:1b", "b:1", 100.0, 5.0, NOW - 10 * 86400)]
    record_model_requests(db, rows)

    totals = model_totals(
        db, ["llama3.2:3b", "old:1b", "qwen2.5:7b"], NOW - 86400, NOW + 1
    )

    assert totals == [
        {
            "model": "qwen2.5:7b",
            "requests": 4,
            "latency_ms": 250.0,
            "tokens_per_s": 35.0,
        },
        {
            "model": "llama3.2:3b",
            "requests": 1,
            "latency_ms": 100.0,
            "tokens_per_s": None,
        },
    ]
    # every model seen gets a document, and per-server speed samples exist
    assert sorted(d["name"] for d in db.find("models")) == [
        "llama3.2:3b",
        "old:1b",
        "qwen2.5:7b",
    ]
    speed = db.query_series(["a:1"], "tokens_per_s", NOW - 86400, NOW + 1, "raw")
    assert sorted(r.sum for r in speed) == [20.0, 40.0, 40.0, 40.0]
