"""TinyDB backend: one JSON file, rewritten atomically on every write.

Each write serialises the whole database to a temporary file, fsyncs it and
``os.replace``s it over the old one, so a ``kill -9`` leaves either the previous
or the new file, never a torn one; an acknowledged write is on disk. A lock makes
every operation atomic between threads, and an exclusive ``flock`` keeps a second
process (or a second open) out, since TinyDB has no cross-process coordination.
The cost grows with the file: see ``docs/benchmarks.md`` for the measured limits.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Document

from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import (
    DatabaseManager,
    Doc,
    Resolution,
    Rollup,
    Sample,
    Where,
    check_field,
    check_table,
    clean_changes,
    ensure_parent,
    new_document,
    now_iso,
    rollup_batch,
    upsert_keys,
)
from ollama_webmgr.store.pyquery import matches, sort_docs

_RAW = "server_stats"
_ROLLUP = {"hour": "server_stats_hourly", "day": "server_stats_daily"}


class AtomicJSONStorage(Storage):
    """Keeps the data in memory; every ``write`` replaces the file atomically."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.data: dict[str, dict[str, Any]] | None = None
        if self.path.exists() and self.path.stat().st_size:
            try:
                self.data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise StoreError(f"cannot read {self.path}: {exc}") from None

    def read(self) -> dict[str, dict[str, Any]] | None:
        return self.data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self.data = data
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must reach the disk
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        pass


class TinyDatabase(DatabaseManager):
    """``DatabaseManager`` over a TinyDB JSON file (one process, many threads)."""

    backend = "tinydb"

    def __init__(self, path: str) -> None:
        self.path = ensure_parent(path)
        self._lock = threading.RLock()
        self._lockfile = open(f"{self.path}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            raise StoreError(
                f"{self.path} is already open (TinyDB allows one)"
            ) from None
        self._storage: AtomicJSONStorage | None = None
        try:
            self._db = TinyDB(str(self.path), storage=self._make_storage)
        except BaseException:
            self._lockfile.close()  # closing releases the flock
            raise
        self._closed = False

    def _make_storage(self, path: str) -> AtomicJSONStorage:
        self._storage = AtomicJSONStorage(path)
        return self._storage

    # -- plumbing -------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("database is closed")

    def _docs(self, table: str) -> list[Document]:
        check_table(table)
        self._check_open()
        return list(self._db.table(table).all())

    def _find_doc(self, table: str, doc_id: str) -> Document | None:
        return next((d for d in self._docs(table) if d.get("id") == doc_id), None)

    def _raw(self, name: str) -> dict[str, dict[str, Any]]:
        assert self._storage is not None
        data = self._storage.data
        return {} if data is None else data.get(name, {})

    def _write_raw(self, changes: dict[str, dict[str, dict[str, Any]]]) -> None:
        assert self._storage is not None
        data = dict(self._storage.data or {})
        data.update(changes)
        self._storage.write(data)

    # -- documents ------------------------------------------------------------
    def insert(self, table: str, doc: Doc) -> str:
        return self.insert_many(table, [doc])[0]

    def insert_many(self, table: str, docs: Sequence[Doc]) -> list[str]:
        with self._lock:
            new = [new_document(d) for d in docs]
            existing = {d.get("id") for d in self._docs(table)}
            ids = [d["id"] for d in new]
            if existing.intersection(ids) or len(set(ids)) != len(ids):
                raise StoreError(f"constraint violated: duplicate id in {table}")
            if new:
                self._db.table(table).insert_multiple(new)
            return ids

    def get(self, table: str, doc_id: str) -> Doc | None:
        with self._lock:
            found = self._find_doc(table, doc_id)
            return copy.deepcopy(dict(found)) if found is not None else None

    def update(self, table: str, doc_id: str, changes: Doc) -> Doc | None:
        with self._lock:
            changes = clean_changes(changes)
            found = self._find_doc(table, doc_id)
            if found is None:
                return None
            fields = {**changes, "updated_at": now_iso()}
            self._db.table(table).update(fields, doc_ids=[found.doc_id])
            return copy.deepcopy({**found, **fields})

    def increment(
        self, table: str, doc_id: str, field: str, by: float, changes: Doc
    ) -> Doc | None:
        check_field(field)
        with self._lock:  # TinyDB is one process: the lock is enough
            found = self._find_doc(table, doc_id)
            if found is None:
                return None
            return self.update(
                table, doc_id, {**changes, field: (found.get(field) or 0) + by}
            )

    def upsert(self, table: str, key_fields: Sequence[str], doc: Doc) -> str:
        with self._lock:
            where = upsert_keys(key_fields, doc)
            found = next((d for d in self._docs(table) if matches(d, where)), None)
            if found is None:
                return self.insert(table, doc)
            self.update(table, found["id"], doc)
            return str(found["id"])

    def delete(self, table: str, doc_id: str) -> bool:
        return self.delete_where(table, [Where("id", "==", doc_id)]) > 0

    def delete_where(self, table: str, where: Sequence[Where]) -> int:
        with self._lock:
            gone = [d.doc_id for d in self._docs(table) if matches(d, where)]
            if gone:
                self._db.table(table).remove(doc_ids=gone)
            return len(gone)

    def find(
        self,
        table: str,
        where: Sequence[Where] = (),
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Doc]:
        if order_by is not None:
            check_field(order_by)
        with self._lock:
            found = [dict(d) for d in self._docs(table) if matches(d, where)]
            found = sort_docs(found, order_by, descending)
            start = max(offset, 0)
            end = None if limit is None else start + max(limit, 0)
            return copy.deepcopy(found[start:end])

    def count(self, table: str, where: Sequence[Where] = ()) -> int:
        with self._lock:
            return sum(1 for d in self._docs(table) if matches(d, where))

    def put_many(self, table: str, docs: Sequence[Doc]) -> int:
        with self._lock:
            by_id = {d.get("id"): d.doc_id for d in self._docs(table)}
            tab = self._db.table(table)
            stale = [by_id[d["id"]] for d in docs if d["id"] in by_id]
            if stale:
                tab.remove(doc_ids=stale)
            tab.insert_multiple([dict(d) for d in docs])
            return len(docs)

    # -- time series ------------------------------------------------------------
    def add_samples(self, samples: Sequence[Sample], *, rollup: bool = True) -> int:
        if not samples:
            return 0
        with self._lock:
            self._check_open()
            raw = dict(self._raw(_RAW))
            nxt = max(map(int, raw), default=0) + 1
            for i, s in enumerate(samples):
                raw[str(nxt + i)] = {
                    "server": s.server,
                    "metric": s.metric,
                    "ts": s.ts,
                    "value": s.value,
                }
            changes = {_RAW: raw}
            if rollup:
                for res, name in _ROLLUP.items():
                    changes[name] = _fold(self._raw(name), rollup_batch(samples, res))
            self._write_raw(changes)
            return len(samples)

    def query_series(
        self,
        servers: Sequence[str],
        metric: str,
        start: float,
        end: float,
        resolution: Resolution = "hour",
    ) -> list[Rollup]:
        wanted = set(servers)
        with self._lock:
            self._check_open()
            if resolution == "raw":
                points = [
                    Rollup(
                        r["server"],
                        metric,
                        r["ts"],
                        1,
                        r["value"],
                        r["value"],
                        r["value"],
                    )
                    for r in self._raw(_RAW).values()
                    if r["server"] in wanted
                    and r["metric"] == metric
                    and start <= r["ts"] < end
                ]
            else:
                points = [
                    Rollup(**r)
                    for r in self._raw(_ROLLUP[resolution]).values()
                    if r["server"] in wanted
                    and r["metric"] == metric
                    and start <= r["bucket"] < end
                ]
        return sorted(points, key=lambda p: (p.server, p.bucket))

    def prune_samples(self, before: float, resolution: Resolution = "raw") -> int:
        name = _RAW if resolution == "raw" else _ROLLUP[resolution]
        key = "ts" if resolution == "raw" else "bucket"
        with self._lock:
            self._check_open()
            rows = self._raw(name)
            kept = {k: v for k, v in rows.items() if v[key] >= before}
            if len(kept) != len(rows):
                self._write_raw({name: kept})
            return len(rows) - len(kept)

    def iter_samples(self, batch: int = 50_000) -> Iterator[list[Sample]]:
        with self._lock:
            rows = [Sample(**r) for r in self._raw(_RAW).values()]
        for i in range(0, len(rows), batch):
            yield rows[i : i + batch]

    def iter_rollups(
        self, resolution: Resolution, batch: int = 50_000
    ) -> Iterator[list[Rollup]]:
        with self._lock:
            rows = [Rollup(**r) for r in self._raw(_ROLLUP[resolution]).values()]
        for i in range(0, len(rows), batch):
            yield rows[i : i + batch]

    def put_rollups(self, resolution: Resolution, rows: Sequence[Rollup]) -> int:
        with self._lock:
            self._check_open()
            name = _ROLLUP[resolution]
            table = _index(self._raw(name))
            for r in rows:
                table[(r.server, r.metric, r.bucket)] = _rollup_dict(r)
            self._write_raw({name: _renumber(table)})
            return len(rows)

    def clear_series(self) -> None:
        with self._lock:
            self._check_open()
            self._write_raw({_RAW: {}, **{n: {} for n in _ROLLUP.values()}})

    def series_counts(self) -> dict[str, int]:
        with self._lock:
            return {n: len(self._raw(n)) for n in (_RAW, *_ROLLUP.values())}

    def oldest_sample(self) -> float | None:
        with self._lock:
            return min((r["ts"] for r in self._raw(_RAW).values()), default=None)

    # -- lifecycle ------------------------------------------------------------------
    def size_bytes(self) -> int | None:
        return self.path.stat().st_size if self.path.exists() else 0

    def location(self) -> str:
        return str(self.path)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._db.close()
            fcntl.flock(self._lockfile, fcntl.LOCK_UN)
            self._lockfile.close()


def _rollup_dict(r: Rollup) -> dict[str, Any]:
    return {
        "server": r.server,
        "metric": r.metric,
        "bucket": r.bucket,
        "count": r.count,
        "sum": r.sum,
        "min": r.min,
        "max": r.max,
    }


def _index(
    rows: dict[str, dict[str, Any]],
) -> dict[tuple[str, str, float], dict[str, Any]]:
    return {(r["server"], r["metric"], r["bucket"]): dict(r) for r in rows.values()}


def _renumber(table: dict[tuple[str, str, float], dict[str, Any]]) -> dict[str, Any]:
    return {str(i): row for i, row in enumerate(table.values(), start=1)}


def _fold(rows: dict[str, dict[str, Any]], batch: list[Rollup]) -> dict[str, Any]:
    table = _index(rows)
    for r in batch:
        cur = table.get((r.server, r.metric, r.bucket))
        if cur is None:
            table[(r.server, r.metric, r.bucket)] = _rollup_dict(r)
        else:
            cur["count"] += r.count
            cur["sum"] += r.sum
            cur["min"] = min(cur["min"], r.min)
            cur["max"] = max(cur["max"], r.max)
    return _renumber(table)
