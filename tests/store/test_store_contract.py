"""The DatabaseManager contract: the same tests run on SQLite, TinyDB, PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import DatabaseManager, Sample, Where, open_database


def test_insert_assigns_id_and_utc_timestamps(db: DatabaseManager) -> None:
    doc_id = db.insert("servers", {"address": "a:11434", "healthy": True})
    doc = db.get("servers", doc_id)
    assert doc is not None
    assert doc["address"] == "a:11434"
    assert doc["healthy"] is True
    assert isinstance(doc_id, str)
    created = dt.datetime.fromisoformat(doc["created_at"])
    assert created.utcoffset() == dt.timedelta(0)
    assert doc["updated_at"] == doc["created_at"]


def test_insert_keeps_a_given_id_and_refuses_a_duplicate(db: DatabaseManager) -> None:
    assert db.insert("jobs", {"id": "job-1", "kind": "pull"}) == "job-1"
    with pytest.raises(StoreError, match="constraint"):
        db.insert("jobs", {"id": "job-1", "kind": "pull"})
    assert db.count("jobs") == 1


def test_get_of_unknown_id_is_none(db: DatabaseManager) -> None:
    assert db.get("servers", "nope") is None


def test_nested_values_round_trip(db: DatabaseManager) -> None:
    hw = {"cpu": {"cores": 8}, "gpu": [{"name": "RTX", "vram": 24.0}]}
    doc_id = db.insert("servers", {"address": "a", "hardware_info": hw})
    assert db.get("servers", doc_id)["hardware_info"] == hw  # type: ignore[index]


def test_update_merges_fields_and_bumps_updated_at(db: DatabaseManager) -> None:
    doc_id = db.insert("servers", {"address": "a", "load": 0.1, "name": "x"})
    before = db.get("servers", doc_id)
    assert before is not None
    after = db.update("servers", doc_id, {"load": 0.9, "id": "hijack"})
    assert after is not None
    assert after["load"] == 0.9
    assert after["name"] == "x"
    assert after["id"] == doc_id
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]
    assert db.get("servers", doc_id) == after


def test_update_of_missing_document_returns_none(db: DatabaseManager) -> None:
    assert db.update("servers", "missing", {"load": 1}) is None


def test_increment_adds_and_merges(db: DatabaseManager) -> None:
    doc_id = db.insert("models", {"name": "m"})
    first = db.increment("models", doc_id, "usage_count", 2, {"last_used": "t1"})
    assert first is not None
    assert (first["usage_count"], first["last_used"]) == (2, "t1")
    db.increment("models", doc_id, "usage_count", 3, {})
    assert db.get("models", doc_id)["usage_count"] == 5  # type: ignore[index]
    assert db.increment("models", "missing", "usage_count", 1, {}) is None


def test_concurrent_increments_lose_no_count(db: DatabaseManager) -> None:
    doc_id = db.insert("models", {"name": "m", "usage_count": 0})

    def work() -> None:
        for _ in range(25):
            db.increment("models", doc_id, "usage_count", 1, {})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.get("models", doc_id)["usage_count"] == 100  # type: ignore[index]


def test_upsert_inserts_then_updates_by_key(db: DatabaseManager) -> None:
    first = db.upsert("config", ["key"], {"key": "retry_policy", "value": {"n": 3}})
    second = db.upsert("config", ["key"], {"key": "retry_policy", "value": {"n": 5}})
    assert first == second
    assert db.count("config") == 1
    assert db.get("config", first)["value"] == {"n": 5}  # type: ignore[index]


def test_delete_and_delete_where(db: DatabaseManager) -> None:
    ids = db.insert_many("audit", [{"who": "a"}, {"who": "b"}, {"who": "b"}])
    assert db.delete("audit", ids[0]) is True
    assert db.delete("audit", ids[0]) is False
    assert db.delete_where("audit", [Where("who", "==", "b")]) == 2
    assert db.count("audit") == 0


@pytest.fixture
def models(db: DatabaseManager) -> DatabaseManager:
    db.insert_many(
        "models",
        [
            {"name": "llama3", "size": 8, "quantization": "Q4_K_M", "usage_count": 5},
            {"name": "mistral", "size": 7, "quantization": "Q4_0", "usage_count": 2},
            {"name": "phi3", "size": 3, "quantization": None, "usage_count": 9},
            {"name": "qwen", "size": 14},
        ],
    )
    return db


def names(docs: list[dict[str, object]]) -> list[object]:
    return [d["name"] for d in docs]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ([Where("size", "==", 7)], ["mistral"]),
        ([Where("size", "!=", 7)], ["llama3", "phi3", "qwen"]),
        ([Where("size", "<", 7)], ["phi3"]),
        ([Where("size", "<=", 7)], ["mistral", "phi3"]),
        ([Where("size", ">", 7)], ["llama3", "qwen"]),
        ([Where("size", ">=", 8), Where("size", "<", 14)], ["llama3"]),
        ([Where("name", "in", ["qwen", "phi3", "gpt"])], ["phi3", "qwen"]),
        ([Where("name", "in", [])], []),
        ([Where("quantization", "==", None)], ["phi3", "qwen"]),
        ([Where("quantization", "!=", None)], ["llama3", "mistral"]),
        ([Where("quantization", "!=", "Q4_0")], ["llama3"]),
        ([Where("usage_count", ">", 1)], ["llama3", "mistral", "phi3"]),
        ([Where("name", ">=", "m")], ["mistral", "phi3", "qwen"]),
    ],
)
def test_find_filters_by_equality_and_ranges(
    models: DatabaseManager, where: list[Where], expected: list[str]
) -> None:
    assert sorted(names(models.find("models", where))) == expected  # type: ignore[type-var]
    assert models.count("models", where) == len(expected)


def test_find_orders_limits_and_offsets(models: DatabaseManager) -> None:
    by_size = models.find("models", order_by="size")
    assert names(by_size) == ["phi3", "mistral", "llama3", "qwen"]
    top = models.find("models", order_by="size", descending=True, limit=2)
    assert names(top) == ["qwen", "llama3"]
    page = models.find("models", order_by="name", limit=2, offset=1)
    assert names(page) == ["mistral", "phi3"]


def test_find_puts_missing_values_first_ascending_last_descending(
    models: DatabaseManager,
) -> None:
    asc = names(models.find("models", order_by="usage_count"))
    assert asc == ["qwen", "mistral", "llama3", "phi3"]
    desc = names(models.find("models", order_by="usage_count", descending=True))
    assert desc == ["phi3", "llama3", "mistral", "qwen"]


def test_find_defaults_to_insertion_order_and_filters_on_timestamps(
    db: DatabaseManager,
) -> None:
    for i in range(5):
        db.insert("jobs", {"n": i})
    jobs = db.find("jobs")
    assert [j["n"] for j in jobs] == [0, 1, 2, 3, 4]
    later = db.find("jobs", [Where("created_at", ">", jobs[2]["created_at"])])
    assert [j["n"] for j in later] == [3, 4]
    assert [j["n"] for j in db.find("jobs", descending=True, limit=1)] == [4]


def test_unknown_table_and_bad_values_raise_store_error(db: DatabaseManager) -> None:
    with pytest.raises(StoreError, match="unknown table"):
        db.insert("users", {})
    with pytest.raises(StoreError, match="JSON"):
        db.insert("jobs", {"when": dt.datetime.now()})
    with pytest.raises(StoreError, match="field"):
        db.find("jobs", [Where("a'; drop", "==", 1)])
    with pytest.raises(StoreError, match="field"):
        db.find("jobs", order_by="x y")


def test_put_many_restores_documents_exactly(db: DatabaseManager) -> None:
    doc = {
        "id": "abc",
        "created_at": "2026-01-01T00:00:00.000000+00:00",
        "updated_at": "2026-01-02T00:00:00.000000+00:00",
        "state": "done",
    }
    assert db.put_many("jobs", [doc, {**doc, "id": "def"}]) == 2
    assert db.put_many("jobs", [{**doc, "state": "failed"}]) == 1
    assert db.get("jobs", "abc") == {**doc, "state": "failed"}
    assert db.count("jobs") == 2


def test_concurrent_threads_lose_no_write(db: DatabaseManager) -> None:
    def work(n: int) -> None:
        for i in range(10):
            db.insert("audit", {"thread": n, "i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.count("audit") == 40


HOUR = 3600.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % 86400)  # a midnight UTC


def test_samples_roll_up_by_hour_and_day(db: DatabaseManager) -> None:
    samples = [Sample("a", "load", T0 + i * 600, float(i)) for i in range(12)]
    samples.append(Sample("b", "load", T0, 100.0))
    assert db.add_samples(samples[:5]) == 5
    db.add_samples(samples[5:])  # a second batch folds into the same buckets
    hours = db.query_series(["a"], "load", T0, T0 + 86400, "hour")
    assert [(p.bucket, p.count, p.sum, p.min, p.max) for p in hours] == [
        (T0, 6, 15.0, 0.0, 5.0),
        (T0 + HOUR, 6, 51.0, 6.0, 11.0),
    ]
    days = db.query_series(["a", "b"], "load", T0, T0 + 86400, "day")
    assert [(p.server, p.count, p.avg) for p in days] == [("a", 12, 5.5), ("b", 1, 100)]
    raw = db.query_series(["a"], "load", T0 + 600, T0 + 1800, "raw")
    assert [p.sum for p in raw] == [1.0, 2.0]
    assert db.query_series(["a"], "latency", T0, T0 + 86400) == []


def test_prune_removes_old_samples_only(db: DatabaseManager) -> None:
    db.add_samples([Sample("a", "health", T0 + i * HOUR, 1.0) for i in range(4)])
    assert db.oldest_sample() == T0
    assert db.prune_samples(T0 + 2 * HOUR) == 2
    assert db.oldest_sample() == T0 + 2 * HOUR
    counts = db.series_counts()
    assert counts == {
        "server_stats": 2,
        "server_stats_hourly": 4,
        "server_stats_daily": 1,
    }
    assert db.prune_samples(T0 + 2 * HOUR, "hour") == 2


def test_series_export_and_restore(db: DatabaseManager) -> None:
    db.add_samples([Sample("a", "m", T0 + i, 1.0) for i in range(10)])
    raw = [s for batch in db.iter_samples(batch=3) for s in batch]
    hours = [r for batch in db.iter_rollups("hour") for r in batch]
    assert len(raw) == 10
    db.clear_series()
    assert db.oldest_sample() is None
    db.add_samples(raw, rollup=False)
    db.put_rollups("hour", hours)
    db.put_rollups("hour", hours)  # idempotent: same bucket replaced
    assert db.series_counts()["server_stats"] == 10
    assert db.query_series(["a"], "m", T0, T0 + HOUR)[0].count == 10


def test_info_fields(db: DatabaseManager) -> None:
    assert db.backend in {"sqlite", "postgresql", "tinydb"}
    assert db.location()
    assert (db.size_bytes() or 0) >= 0


def test_concurrent_upserts_of_one_key_keep_one_document(db: DatabaseManager) -> None:
    def work(n: int) -> None:
        for i in range(5):
            db.upsert("models", ["name"], {"name": "llama3", "usage_count": n * 10 + i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.count("models", [Where("name", "==", "llama3")]) == 1


def test_upsert_needs_its_keys(db: DatabaseManager) -> None:
    with pytest.raises(StoreError, match="at least one key"):
        db.upsert("config", [], {"key": "x"})
    with pytest.raises(StoreError, match="missing"):
        db.upsert("config", ["key"], {"value": 1})
    with pytest.raises(StoreError, match="dict"):
        db.update("config", "x", ["not", "a", "dict"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "store_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_increments_from_separate_handles_lose_no_count(store_url: str) -> None:
    # one handle (engine, connection pool) per thread, as separate processes have
    handles = [open_database(store_url) for _ in range(3)]
    doc_id = handles[0].insert("models", {"name": "m"})

    def work(handle: DatabaseManager) -> None:
        for _ in range(20):
            handle.increment("models", doc_id, "usage_count", 1, {})

    threads = [threading.Thread(target=work, args=(h,)) for h in handles]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert handles[0].get("models", doc_id)["usage_count"] == 60  # type: ignore[index]
    for handle in handles:
        handle.close()
