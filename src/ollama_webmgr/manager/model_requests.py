"""Per-model request figures from the gateway's records (tokens per second).

``ModelRequestSink`` is a ``BatchRecorder`` sink like ``RequestSink``; give the
gateway both, e.g. ``JobListeners(RequestSink(db, servers),
ModelRequestSink(db, servers))`` (``jobs.hooks`` fans one call out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import cast

from ollama_webmgr.cluster.servers import ServerRegistry
from ollama_webmgr.errors import InvalidModelName
from ollama_webmgr.gateway.stats import RequestRecord
from ollama_webmgr.off_hub import off_hub
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.database import DatabaseManager
from ollama_webmgr.store.records import record_model_use
from ollama_webmgr.store.stats import record_model_requests

Row = tuple[str, str | None, float, float | None, float]


def tokens_per_second(record: RequestRecord) -> float | None:
    """Completion tokens over generation time (after the first token when known).

    >>> base = dict(started_at=0.0, method="POST", path="/api/chat", kind="chat",
    ...     model="m", server="a", status=200, prompt_tokens=5, bytes_in=1,
    ...     bytes_out=1, attempts=1, error=None)
    >>> tokens_per_second(RequestRecord(**base, latency_ms=2500.0, ttft_ms=500.0,
    ...     completion_tokens=100))
    50.0
    >>> tokens_per_second(RequestRecord(**base, latency_ms=1000.0, ttft_ms=None,
    ...     completion_tokens=None)) is None
    True
    """
    tokens = record.completion_tokens
    if not tokens or tokens <= 0:
        return None
    busy_ms = record.latency_ms - (record.ttft_ms or 0.0)
    if busy_ms <= 0:
        busy_ms = record.latency_ms
    return tokens / (busy_ms / 1000) if busy_ms > 0 else None


def model_request_rows(
    records: Sequence[RequestRecord], urls: Mapping[str, str]
) -> list[Row]:
    """``(model, server address, latency_ms, tokens/s, ts)`` of successful requests."""
    return [
        (
            r.model,
            urls.get(r.server or ""),
            r.latency_ms,
            tokens_per_second(r),
            r.started_at,
        )
        for r in records
        if r.model and r.status < 400 and r.kind != "other"
    ]


class ModelRequestSink:
    def __init__(self, db: DatabaseManager, registry: ServerRegistry) -> None:
        self._db = db
        self._registry = registry

    def __call__(self, records: Sequence[RequestRecord]) -> None:
        # by address, as every other sample of a server (read here, not off hub)
        urls = {s.name: display_address(s.url) for s in self._registry.all()}
        rows = model_request_rows(records, urls)
        if rows:
            off_hub(self._db, store_model_requests, rows)


def store_model_requests(db: DatabaseManager, rows: list[Row]) -> None:
    """Write the rows under the names the store knows, and count each model's use."""
    rows = _canonical(db, rows)
    if not rows:
        return
    record_model_requests(db, rows)
    # ``models.usage_count`` / ``last_used`` of each model used.
    for name, count in Counter(row[0] for row in rows).items():
        record_model_use(db, name, count)


def _canonical(db: DatabaseManager, rows: list[Row]) -> list[Row]:
    """Rows named as the store knows the model (names compared as Ollama does),
    else by their display form; invalid names are dropped."""
    known = {_key(doc["name"]): doc["name"] for doc in db.find("models")}
    named = []
    for name, *rest in rows:
        key = _key(name)
        if key is not None:
            named.append((known.get(key) or ModelName.parse(name).display, *rest))
    return cast(list[Row], named)


def _key(raw: str) -> tuple[str, ...] | None:
    try:
        return ModelName.parse(raw).key
    except InvalidModelName:
        return None
