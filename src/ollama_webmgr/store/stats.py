"""Health samples and request statistics on top of the time-series store.

Plain functions taking the ``DatabaseManager`` (no Flask). Raw samples are folded
into hourly and daily rollups as they are written, so a 30-day chart reads about
720 points per server whatever the sampling rate. ``cleanup_old_stats`` keeps raw
samples ``days_to_keep`` days, hourly rollups ``HOURLY_KEEP_DAYS`` days and daily
rollups forever; the owner schedules it (e.g. once an hour).

Request statistics are samples too: one per request, metric ``req:<type>`` on the
pseudo-server ``*``, value the latency in milliseconds; plus, from the gateway's
records, ``req:errors`` (one per answer with status >= 400), token counts and
bytes, summed into ``request_stats`` as ``error_requests``, ``prompt_tokens``,
``completion_tokens``, ``bytes_in`` and ``bytes_out``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import (
    DatabaseManager,
    Doc,
    Resolution,
    Rollup,
    Sample,
    Where,
)
from ollama_webmgr.store.records import prune_finished_jobs

Period = Literal["hourly", "daily", "weekly"]
HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
HOURLY_KEEP_DAYS = 400
REQUEST_TYPES = ("generate", "chat", "embedding", "other")
#: request_stats field -> metric summed into it (on the pseudo-server ``*``)
REQUEST_DETAILS = {
    "error_requests": "req:errors",
    "prompt_tokens": "req:prompt_tokens",
    "completion_tokens": "req:completion_tokens",
    "bytes_in": "req:bytes_in",
    "bytes_out": "req:bytes_out",
}
ALL_SERVERS = "*"
BATCH = 10_000

#: chart window -> (seconds, resolution read)
WINDOWS: dict[str, tuple[int, Resolution]] = {
    "1h": (HOUR, "raw"),
    "24h": (DAY, "hour"),
    "7d": (7 * DAY, "hour"),
    "30d": (30 * DAY, "hour"),
    "365d": (365 * DAY, "day"),
}
_PERIOD_SECONDS = {"hourly": HOUR, "daily": DAY, "weekly": WEEK}
_MONDAY = 4 * DAY  # 1970-01-01 was a Thursday


# -- health samples -------------------------------------------------------------------
def record_samples(db: DatabaseManager, samples: Iterable[Sample]) -> int:
    """Write samples in batches (one transaction each); how many were written."""
    written, batch = 0, []
    for sample in samples:
        batch.append(sample)
        if len(batch) >= BATCH:
            written += db.add_samples(batch)
            batch = []
    return written + db.add_samples(batch)


def health_series(
    db: DatabaseManager,
    server: str,
    metric: str = "health",
    period: str = "24h",
    *,
    now: float | None = None,
) -> list[Rollup]:
    """Points of one server's metric over a window (``1h``, ``24h``, ``7d``...)."""
    if period not in WINDOWS:
        raise StoreError(f"unknown period {period!r} (use {', '.join(WINDOWS)})")
    seconds, resolution = WINDOWS[period]
    end = time.time() if now is None else now
    return db.query_series([server], metric, end - seconds, end + 1, resolution)


def cleanup_old_stats(
    db: DatabaseManager, days_to_keep: int = 30, *, now: float | None = None
) -> dict[str, int]:
    """Delete raw samples older than ``days_to_keep`` days (and stale hourly rollups)."""
    if days_to_keep < 1:
        raise StoreError("days_to_keep must be at least 1")
    end = time.time() if now is None else now
    hourly_days = max(days_to_keep, HOURLY_KEEP_DAYS)
    return {
        "server_stats": db.prune_samples(end - days_to_keep * DAY, "raw"),
        "server_stats_hourly": db.prune_samples(end - hourly_days * DAY, "hour"),
    }


def get_health_report(db: DatabaseManager, *, now: float | None = None) -> list[Doc]:
    """Per known server: its last state and its uptime % over 24 h, 7 d and 30 d.

    Uptime is the mean of the ``health`` samples (1 up, 0 down); ``None`` when the
    window holds no sample.
    """
    end = time.time() if now is None else now
    servers = db.find("servers", order_by="address")
    addresses = [s["address"] for s in servers if isinstance(s.get("address"), str)]
    month = db.query_series(addresses, "health", end - 30 * DAY, end + 1, "hour")
    report = []
    for server in servers:
        points = [p for p in month if p.server == server.get("address")]
        report.append(
            {
                "address": server.get("address"),
                "name": server.get("name"),
                "healthy": server.get("healthy"),
                "last_check": server.get("last_check"),
                "uptime": {
                    label: _uptime(points, end - days * DAY)
                    for label, days in (("24h", 1), ("7d", 7), ("30d", 30))
                },
            }
        )
    return report


def _uptime(points: Sequence[Rollup], since: float) -> float | None:
    # an hour bucket counts when it ends inside the window
    inside = [p for p in points if p.bucket + HOUR > since]
    total = sum(p.count for p in inside)
    return round(100 * sum(p.sum for p in inside) / total, 2) if total else None


# -- request statistics ------------------------------------------------------------------
def update_request_stats(
    db: DatabaseManager,
    request_type: str,
    latency_ms: float = 0.0,
    *,
    ts: float | None = None,
) -> None:
    """Count one request of ``request_type`` (generate, chat, embedding, other)."""
    record_requests(db, [(request_type, latency_ms, ts)])


def record_requests(
    db: DatabaseManager, requests: Iterable[tuple[str, float, float | None]]
) -> int:
    """Batched form of ``update_request_stats``: ``(type, latency_ms, ts)`` triples."""
    return record_samples(db, request_samples(requests))


def request_samples(
    requests: Iterable[tuple[str, float, float | None]],
) -> list[Sample]:
    """The samples ``record_requests`` writes (one per request)."""
    now = time.time()
    samples = []
    for kind, latency, ts in requests:
        if kind not in REQUEST_TYPES:
            raise StoreError(
                f"unknown request type {kind!r} (use {', '.join(REQUEST_TYPES)})"
            )
        samples.append(
            Sample(ALL_SERVERS, f"req:{kind}", now if ts is None else ts, latency)
        )
    return samples


def request_detail_samples(
    details: Iterable[tuple[float, int, int | None, int | None, int, int]],
) -> list[Sample]:
    """Samples of ``(ts, status, prompt_tokens, completion_tokens, bytes_in,
    bytes_out)`` for requests also counted by ``request_samples`` (written
    together with ``record_samples``)."""
    samples = []
    for ts, status, prompt, completion, bytes_in, bytes_out in details:
        values = {
            "req:errors": 1 if status >= 400 else None,
            "req:prompt_tokens": prompt,
            "req:completion_tokens": completion,
            "req:bytes_in": bytes_in,
            "req:bytes_out": bytes_out,
        }
        samples += [
            Sample(ALL_SERVERS, metric, ts, float(value))
            for metric, value in values.items()
            if value is not None
        ]
    return samples


def _fetch(
    db: DatabaseManager, start: float, end: float, resolution: Resolution
) -> dict[str, list[Rollup]]:
    metrics = {kind: f"req:{kind}" for kind in REQUEST_TYPES} | REQUEST_DETAILS
    return {
        name: db.query_series([ALL_SERVERS], metric, start, end, resolution)
        for name, metric in metrics.items()
    }


def _summary(rows: dict[str, list[Rollup]]) -> dict[str, Any]:
    """Requests per type, mean latency and the summed details of some rollup rows."""
    counts = {kind: sum(r.count for r in rows.get(kind, [])) for kind in REQUEST_TYPES}
    latency_sum = sum(r.sum for kind in REQUEST_TYPES for r in rows.get(kind, []))
    total = sum(counts.values())
    return {
        "total_requests": total,
        **{f"{kind}_requests": n for kind, n in counts.items()},
        "average_latency_ms": round(latency_sum / total, 3) if total else 0.0,
        **{
            name: int(sum(r.sum for r in rows.get(name, [])))
            for name in REQUEST_DETAILS
        },
    }


def _totals(db: DatabaseManager, start: float, end: float) -> dict[str, Any]:
    return _summary(_fetch(db, start, end, "hour"))


def get_stats_snapshot(db: DatabaseManager, *, now: float | None = None) -> Doc:
    """Totals of the last 24 hours (whole hours, the current one included)."""
    end = time.time() if now is None else now
    start = (end // HOUR) * HOUR - 23 * HOUR
    return {"since": start, **_totals(db, start, end + 1)}


def period_start(ts: float, period: Period) -> float:
    """Start of the period holding ``ts`` (weeks start on Monday, UTC).

    >>> period_start(1_700_000_000, "weekly")  # Tue 2023-11-14 22:13 UTC
    1699833600.0
    """
    if period not in _PERIOD_SECONDS:
        raise StoreError(f"unknown period {period!r} (use hourly, daily, weekly)")
    size = _PERIOD_SECONDS[period]
    shift = _MONDAY if period == "weekly" else 0
    return float(((ts - shift) // size) * size + shift)


def aggregate_stats(
    db: DatabaseManager, period: Period = "hourly", *, now: float | None = None
) -> Doc:
    """Store (upsert) the totals of the last complete period in ``request_stats``."""
    end = period_start(time.time() if now is None else now, period)
    start = end - _PERIOD_SECONDS[period]
    doc = {"period": period, "timestamp": start, **_totals(db, start, end)}
    doc_id = db.upsert("request_stats", ["period", "timestamp"], doc)
    stored = db.get("request_stats", doc_id)
    assert stored is not None
    return stored


def get_historical_stats(
    db: DatabaseManager,
    period: Period = "daily",
    days: int = 7,
    *,
    now: float | None = None,
) -> list[Doc]:
    """Totals per period over the last ``days`` days, oldest first, from rollups."""
    if days < 1:
        raise StoreError("days must be at least 1")
    end = time.time() if now is None else now
    size = _PERIOD_SECONDS[period]
    first = period_start(end - days * DAY, period)
    # weeks read daily rollups (kept forever), shorter periods the hourly ones
    resolution: Resolution = "day" if period == "weekly" else "hour"
    fetched = _fetch(db, first, end + 1, resolution)
    rows = []
    start = first
    while start <= end:
        window = {
            kind: [r for r in points if start <= r.bucket < start + size]
            for kind, points in fetched.items()
        }
        rows.append({"period": period, "timestamp": start, **_summary(window)})
        start += size
    return rows


def stored_stats(db: DatabaseManager, period: Period, since: float) -> list[Doc]:
    """The ``request_stats`` documents written by ``aggregate_stats``."""
    return db.find(
        "request_stats",
        [Where("period", "==", period), Where("timestamp", ">=", since)],
        order_by="timestamp",
    )


def run_maintenance(
    db: DatabaseManager, days_to_keep: int = 30, *, now: float | None = None
) -> dict[str, int]:
    """The periodic job (run it hourly): roll up request totals, apply retention
    to samples and to the records of finished jobs."""
    periods: tuple[Period, ...] = ("hourly", "daily", "weekly")
    for period in periods:
        aggregate_stats(db, period, now=now)
    removed = cleanup_old_stats(db, days_to_keep, now=now)
    end = time.time() if now is None else now
    removed["jobs"] = prune_finished_jobs(db, end - days_to_keep * DAY)
    return removed


# -- percentiles and per-model figures ----------------------------------------------------
#: pseudo-server prefix of per-model samples (``model:<name>``)
MODEL_PREFIX = "model:"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile (``fraction`` 0..1); ``None`` without values.

    >>> percentile([5, 1, 3, 2, 4], 0.5), percentile(range(1, 101), 0.95)
    (3, 95)
    >>> percentile([], 0.5) is None
    True
    """
    ordered = sorted(values)
    if not ordered:
        return None
    # rounding first: 0.95 * 100 must give rank 95, not 96
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_percentiles(
    db: DatabaseManager,
    servers: Sequence[str],
    metric: str,
    start: float,
    end: float,
) -> dict[str, float | int | None]:
    """p50 / p95 / count of raw samples (rollups keep no percentiles).

    Raw samples are kept ``STATS_RETENTION_DAYS`` days (30 by default), so windows
    up to that age are exact; older ones are not covered.
    """
    values = [r.sum for r in db.query_series(servers, metric, start, end, "raw")]
    return {
        "count": len(values),
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
    }


def request_percentiles(
    db: DatabaseManager, start: float, end: float
) -> dict[str, dict[str, float | int | None]]:
    """Latency p50 / p95 per request type (and ``all``) between two instants."""
    result = {}
    every: list[float] = []
    for kind in REQUEST_TYPES:
        rows = db.query_series([ALL_SERVERS], f"req:{kind}", start, end, "raw")
        values = [r.sum for r in rows]
        every += values
        result[kind] = {
            "count": len(values),
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
        }
    result["all"] = {
        "count": len(every),
        "p50": percentile(every, 0.5),
        "p95": percentile(every, 0.95),
    }
    return result


def record_model_requests(
    db: DatabaseManager,
    rows: Iterable[tuple[str, str | None, float, float | None, float]],
) -> int:
    """Per-model request samples: ``(model, server address, latency_ms, tokens/s, ts)``.

    Writes ``requests`` (value: latency) on ``model:<name>`` and, when known,
    ``tokens_per_s`` on ``model:<name>`` and on the server. Each model gets a
    ``models`` document (by ``name``) so pages can list the models seen.
    """
    samples, names = [], set()
    for model, server, latency, rate, ts in rows:
        names.add(model)
        key = MODEL_PREFIX + model
        samples.append(Sample(key, "requests", ts, latency))
        if rate is not None:
            samples.append(Sample(key, "tokens_per_s", ts, rate))
            if server:
                samples.append(Sample(server, "tokens_per_s", ts, rate))
    for name in sorted(names):
        if not db.find("models", [Where("name", "==", name)], limit=1):
            db.insert("models", {"name": name, "usage_count": 0})
    return record_samples(db, samples)


def model_totals(
    db: DatabaseManager, models: Sequence[str], start: float, end: float
) -> list[Doc]:
    """Per model: requests, mean latency and mean tokens/s over a window, busiest first.

    Reads hourly rollups (whole hours touching the window).
    """
    keys = [MODEL_PREFIX + m for m in models]
    first = (start // HOUR) * HOUR
    counts = db.query_series(keys, "requests", first, end, "hour")
    rates = db.query_series(keys, "tokens_per_s", first, end, "hour")
    rows: list[Doc] = []
    for model, key in zip(models, keys, strict=True):
        mine = [r for r in counts if r.server == key]
        speed = [r for r in rates if r.server == key]
        total = sum(r.count for r in mine)
        if not total:
            continue
        rated = sum(r.count for r in speed)
        rows.append(
            {
                "model": model,
                "requests": total,
                "latency_ms": sum(r.sum for r in mine) / total,
                "tokens_per_s": sum(r.sum for r in speed) / rated if rated else None,
            }
        )
    rows.sort(key=lambda row: (-row["requests"], row["model"]))
    return rows
