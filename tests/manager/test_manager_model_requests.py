"""Gateway request records become per-model and per-server speed samples."""

from __future__ import annotations

from pathlib import Path

from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.manager.model_requests import ModelRequestSink
from ollama_webmgr.store.database import open_database
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
    speed = db.query_series(["http://gpu-a:11434"], "tokens_per_s", NOW, NOW + 1, "raw")
    assert [r.sum for r in speed] == [40.0]
    db.close()
