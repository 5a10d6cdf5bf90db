"""Persistence: sample ingest rate and the 30-day chart query, per backend.

SQLite and PostgreSQL get the full data set (8 servers sampled every 10 s for
30 days, ~2 M raw samples plus their rollups). TinyDB rewrites its whole file on
every write, so it is measured at growing sizes and its limits stated.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa

from ollama_webmgr.store.database import DatabaseManager, Sample, open_database

SERVERS = [f"node{i}:11434" for i in range(8)]
STEP = 10.0
DAYS = 30
NOW = 1_763_798_400.0  # fixed, so runs are comparable
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def samples(start: float, end: float) -> Iterator[Sample]:
    ts = start
    while ts < end:
        for i, server in enumerate(SERVERS):
            yield Sample(server, "latency", ts, 20.0 + (ts + i) % 7)
        ts += STEP


def batched(items: Iterator[Sample], size: int) -> Iterator[list[Sample]]:
    batch: list[Sample] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_rate(db: DatabaseManager, batch: int, total: int, start: float) -> float:
    """Samples per second written in batches of ``batch`` (one commit each)."""
    source = samples(start, start + total / len(SERVERS) * STEP)
    began = time.perf_counter()
    written = sum(db.add_samples(b) for b in batched(source, batch))
    return written / (time.perf_counter() - began)


def timed(fn: Callable[[], object], runs: int = 15) -> float:
    """Median wall time in milliseconds."""
    fn()  # warm caches
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def full_scale(url: str) -> list[str]:
    db = open_database(url)
    try:
        rate_100 = ingest_rate(db, 100, 50_000, NOW - 400 * 86400)
        rate_1000 = ingest_rate(db, 1000, 100_000, NOW - 300 * 86400)
        db.clear_series()
        began = time.perf_counter()
        loaded = sum(
            db.add_samples(b) for b in batched(samples(NOW - DAYS * 86400, NOW), 50_000)
        )
        load_s = time.perf_counter() - began
        start = NOW - DAYS * 86400
        chart = timed(lambda: db.query_series(SERVERS, "latency", start, NOW, "hour"))
        points = len(db.query_series(SERVERS, "latency", start, NOW, "hour"))
        day_raw = timed(
            lambda: db.query_series(SERVERS[:1], "latency", NOW - 86400, NOW, "raw"), 5
        )
        size = (db.size_bytes() or 0) / 2**20
        return [
            f"| {db.backend} | {rate_100:,.0f} | {rate_1000:,.0f} |"
            f" {loaded:,} in {load_s:.0f} s ({loaded / load_s:,.0f}/s) |"
            f" {chart:.1f} ms ({points:,} points) | {day_raw:.1f} ms | {size:,.0f} MiB |"
        ]
    finally:
        db.close()


def tinydb_limits(path: Path) -> list[str]:
    rows, per_mib = [], 0.0
    db = open_database(f"tinydb:///{path}")
    try:
        written = 0
        source = batched(samples(NOW - 90 * 86400, NOW), 100)
        for target in (1_000, 10_000, 30_000):
            began = time.perf_counter()
            batches = 0
            for b in source:
                db.add_samples(b)
                written += len(b)
                batches += 1
                if written >= target:
                    break
            per_batch = (time.perf_counter() - began) * 1000 / batches
            insert = timed(lambda: db.insert("audit", {"who": "bench"}), 5)
            chart = timed(
                lambda: db.query_series(SERVERS, "latency", NOW - 90 * 86400, NOW), 5
            )
            size = (db.size_bytes() or 0) / 2**20
            per_mib = per_batch / size
            rows.append(
                f"| {written:,} | {size:.1f} MiB | {per_batch:.1f} ms"
                f" ({100 / per_batch * 1000:,.0f} samples/s) | {insert:.1f} ms |"
                f" {chart:.1f} ms |"
            )
    finally:
        db.close()
    # the file holds ~80 bytes per raw sample plus its rollups
    full_mib = 2_073_600 * size / written
    rows += [
        "",
        f"Extrapolated from the last row (~{per_mib:.0f} ms per MiB rewritten): the"
        f" 30-day data set of the table above would be a ~{full_mib:,.0f} MiB file and"
        f" every write would take ~{per_mib * full_mib / 1000:,.0f} s — not workable.",
    ]
    return rows


def postgres_url() -> tuple[str, Callable[[], None]] | None:
    name = f"webmgr_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError:
        return None

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    return admin.url.set(database=name).render_as_string(hide_password=False), drop


def run() -> str:
    lines = [
        "## Persistence (`ollama_webmgr.store`)",
        "",
        "Method: `add_samples` in batches (one transaction per batch, rollups updated"
        " in the same transaction); 50,000 samples in batches of 100 and 100,000 in"
        f" batches of 1,000. Then the chart data set: {len(SERVERS)} servers sampled"
        f" every {STEP:.0f} s for {DAYS} days, loaded in batches of 50,000. The chart"
        " query reads the hourly rollups of the 8 servers over 30 days (median of 15"
        " runs); for comparison, one server's raw samples over 24 h.",
        "",
        "| backend | ingest, batch 100 (samples/s) | ingest, batch 1,000 (samples/s) |"
        " 30-day load | 30-day chart, 8 servers | 24 h raw, 1 server | size |",
        "|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        lines += full_scale(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        pg = postgres_url()
        if pg is None:
            lines.append("| postgresql | not measured: no server on 127.0.0.1:5432 |")
        else:
            try:
                lines += full_scale(pg[0])
            finally:
                pg[1]()
        lines += [
            "",
            "TinyDB keeps the whole database in memory and rewrites the file (temp file,"
            " fsync, rename) on every write, so each write costs time proportional to"
            " the file size. Samples written in batches of 100 while the file grows:",
            "",
            "| raw samples in the file | file size | one batch of 100 |"
            " one document insert | chart query (hourly rollups) |",
            "|---|---|---|---|---|",
        ]
        lines += tinydb_limits(Path(tmp) / "bench.json")
    lines += [
        "",
        "Reading: SQLite and PostgreSQL serve the 30-day chart from about 5,760 rollup"
        " rows, whatever the sampling rate. TinyDB is fine for a handful of servers"
        " and a few days of samples (tens of thousands of rows); beyond that every"
        " write slows down linearly — use SQLite (the default) or PostgreSQL.",
    ]
    return "\n".join(lines)
