"""Gateway request records become per-model and per-server speed samples."""

from __future__ import annotations

from pathlib import Path

from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.manager.model_requests import ModelRequestSink
from ollama_webmgr.store.database import Where, open_database
from ollama_webmgr.store.records import record_model_map
from ollama_webmgr.store.stats import model_totals

NOW = 1_763_798_400.0


def record(**changes: object) -> RequestRecord:
    values: dict[str, object] = {
        "started_at": NOW,
        "method": "POST",
        "path": "/api/chat",
        "kind": "chat",
        "model": "qwen2.5:7b",
        "server": "gpu-a:11434",
        "status": 200,
        "latency_ms": 2100.0,
        "ttft_ms": 100.0,
        "prompt_tokens": 10,
        "completion_tokens": 80,
        "bytes_in": 10,
        "bytes_out": 10,
        "attempts": 1,
        "error": None,
    }
    values.update(changes)
    return RequestRecord(**values)  # type: ignore[arg-type]


def test_sink_keeps_successful_model_requests_with_their_speed(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    servers = ServerRegistry.from_urls(["http://gpu-a:11434"])
    sink = ModelRequestSink(db, servers)

    sink(
        [
            record(),  # 80 tokens in 2 s after the first one: 40 tokens/s
            record(kind="embed", path="/api/embed", completion_tokens=None),
            record(status=500),
            record(model=None, kind="other", path="/api/tags"),
        ]
    )

    [row] = model_totals(db, ["qwen2.5:7b"], NOW - 3600, NOW + 1)
    assert row["requests"] == 2
    assert row["tokens_per_s"] == 40.0
    speed = db.query_series(["gpu-a:11434"], "tokens_per_s", NOW, NOW + 1, "raw")
    assert [r.sum for r in speed] == [40.0]
    db.close()


def test_sink_counts_model_uses_with_names_compared_as_ollama_does(
    tmp_path: Path,
) -> None:
    db = open_database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    servers = ServerRegistry.from_urls(["http://gpu-a:11434"])
    record_model_map(db, "qwen2.5:7b", {"gpu-a:11434": "ab" * 32})
    sink = ModelRequestSink(db, servers)

    sink([record(), record(model="Qwen2.5:7B"), record(status=404)])
    sink([record(model="never-listed:1b")])

    [model] = db.find("models", [Where("name", "==", "qwen2.5:7b")])
    assert model["usage_count"] == 2  # "Qwen2.5:7B" is the same model
    assert model["last_used"] is not None
    [seen] = db.find("models", [Where("name", "==", "never-listed:1b")])
    assert seen["usage_count"] == 1
    assert db.count("models") == 2
    db.close()
