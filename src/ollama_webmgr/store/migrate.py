"""Copy a whole store from one backend to another, then check the counts.

Documents are upserted by id (ids and timestamps kept), so running a migration
twice changes nothing. The time series is replaced as a whole: the target's raw
samples and rollups are emptied, then copied (rollups as they are, so history
older than the raw retention survives).
"""

from __future__ import annotations

from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import (
    SERIES_TABLES,
    TABLES,
    DatabaseManager,
    open_database,
    open_existing_database,
)

PAGE = 5_000
Counts = dict[str, tuple[int, int]]


def migrate(src_url: str, dst_url: str) -> Counts:
    """Copy everything from ``src_url`` to ``dst_url``; ``{table: (src, dst)}``.

    Raises ``StoreNotFound`` when the source is a file that does not exist
    (nothing is created), ``StoreError`` when a count differs after the copy.
    """
    if src_url == dst_url:
        raise StoreError("source and destination are the same store")
    src = open_existing_database(src_url)
    try:
        dst = open_database(dst_url)
        try:
            return migrate_between(src, dst)
        finally:
            dst.close()
    finally:
        src.close()


def migrate_between(src: DatabaseManager, dst: DatabaseManager) -> Counts:
    for table in TABLES:
        _copy_documents(src, dst, table)
    dst.clear_series()
    for batch in src.iter_samples():
        dst.add_samples(batch, rollup=False)
    for resolution in ("hour", "day"):
        for rows in src.iter_rollups(resolution):
            dst.put_rollups(resolution, rows)
    counts = table_counts(src), table_counts(dst)
    result = {t: (counts[0][t], counts[1][t]) for t in counts[0]}
    wrong = [f"{t} {a} != {b}" for t, (a, b) in result.items() if a != b]
    if wrong:
        raise StoreError("migration check failed: " + ", ".join(wrong))
    return result


def _copy_documents(src: DatabaseManager, dst: DatabaseManager, table: str) -> None:
    offset = 0
    while True:
        page = src.find(table, order_by="id", limit=PAGE, offset=offset)
        if not page:
            return
        dst.put_many(table, page)
        offset += len(page)


def table_counts(db: DatabaseManager) -> dict[str, int]:
    """Rows per table, documents then time series."""
    counts = {t: db.count(t) for t in TABLES}
    series = db.series_counts()
    counts.update({t: series[t] for t in SERIES_TABLES})
    return counts
