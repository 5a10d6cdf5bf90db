"""SQLite and PostgreSQL through SQLAlchemy Core (same code, two dialects)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from ollama_webmgr.errors import StoreError, StoreUnavailable
from ollama_webmgr.store import sql_tables as T
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
    new_document,
    now_iso,
    rollup_batch,
    upsert_keys,
)
from ollama_webmgr.store.sql_engine import create_engine
from ollama_webmgr.store.sql_query import condition, order_expr

#: advisory lock key held while creating the tables (any constant of our own)
_SCHEMA_LOCK = 0x6F6C6C61  # "olla"


class SqlDatabase(DatabaseManager):
    """``DatabaseManager`` over SQLite (WAL) or PostgreSQL (psycopg 3)."""

    separate_handles = True

    def __init__(self, url: str, *, create_tables: bool = True) -> None:
        self.url = sa.engine.make_url(url)
        self._sibling: SqlDatabase | None = None
        self.backend = (
            "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"
        )
        # rollup upserts, built once: building one (``excluded``) costs more
        # than running it
        self._folds: dict[str, Any] = {}
        mark = "?" if self.backend == "sqlite" else "%s"
        self._sample_insert = (
            f"INSERT INTO {T.samples.name} (server, metric, ts, value)"
            f" VALUES ({', '.join([mark] * 4)})"
        )
        try:
            self.engine = create_engine(url, self.backend)
            if create_tables:
                self._create_tables()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"cannot open database {self.location()}: {exc}",
                location=self.location(),
                detail=str(getattr(exc, "orig", None) or exc).strip(),
            ) from None

    def _create_tables(self) -> None:
        """Create missing tables under a lock: several processes (web and gateway
        workers, RQ workers) may open a fresh database at the same moment.

        SQLite may still answer "database is locked" at once, without waiting
        on its busy timeout, when several connections switch a fresh file to WAL
        together (its lock-deadlock rule); that first step is tried again.
        """
        for attempt in range(20):
            try:
                return self._create_tables_once()
            except OperationalError as exc:
                locked = self.backend == "sqlite" and "locked" in str(exc.orig)
                if not locked or attempt == 19:
                    raise
                time.sleep(0.01 * (attempt + 1))

    def _create_tables_once(self) -> None:
        with self.engine.connect() as conn:
            conn = conn.execution_options(immediate=True)  # SQLite: write lock first
            with conn.begin():
                if self.backend == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
                T.metadata.create_all(conn)

    # -- plumbing -------------------------------------------------------------
    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(immediate=True)
                with conn.begin():
                    yield conn
        except IntegrityError as exc:
            raise StoreError(f"constraint violated: {exc.orig}") from None
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {exc}") from None

    def _insert(self, table: sa.Table) -> Any:
        # INSERT ... ON CONFLICT; a dialect is imported only where it is used
        if self.backend == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)

    @staticmethod
    def _row_doc(row: Any) -> Doc:
        return {
            "id": row.id,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            **row.doc,
        }

    @staticmethod
    def _row_values(doc: Doc) -> dict[str, Any]:
        body = {
            k: v for k, v in doc.items() if k not in ("id", "created_at", "updated_at")
        }
        return {
            "id": doc["id"],
            "created_at": doc["created_at"],
            "updated_at": doc["updated_at"],
            "doc": body,
        }

    def _select(self, table: str, where: Sequence[Where]) -> tuple[sa.Table, Any]:
        check_table(table)
        t = T.documents[table]
        conds = [condition(t, w, self.backend) for w in where]
        return t, sa.and_(sa.true(), *conds)

    # -- documents ------------------------------------------------------------
    def insert(self, table: str, doc: Doc) -> str:
        return self.insert_many(table, [doc])[0]

    def insert_many(self, table: str, docs: Sequence[Doc]) -> list[str]:
        check_table(table)
        rows = [self._row_values(new_document(d)) for d in docs]
        if rows:
            with self._tx(write=True) as conn:
                conn.execute(T.documents[table].insert(), rows)
        return [r["id"] for r in rows]

    def get(self, table: str, doc_id: str) -> Doc | None:
        check_table(table)
        t = T.documents[table]
        with self._tx() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == doc_id)).first()
        return self._row_doc(row) if row else None

    def update(self, table: str, doc_id: str, changes: Doc) -> Doc | None:
        check_table(table)
        changes = clean_changes(changes)
        t = T.documents[table]
        with self._tx(write=True) as conn:
            return self._update_in(conn, t, doc_id, changes)

    def increment(
        self, table: str, doc_id: str, field: str, by: float, changes: Doc
    ) -> Doc | None:
        check_table(table)
        check_field(field)
        changes = clean_changes(changes)
        t = T.documents[table]

        def add(body: Doc) -> Doc:
            return {**changes, field: (body.get(field) or 0) + by}

        # the write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: FOR UPDATE)
        # makes read-add-write atomic between processes
        with self._tx(write=True) as conn:
            return self._update_in(conn, t, doc_id, add)

    def _update_in(
        self,
        conn: Connection,
        t: sa.Table,
        doc_id: str,
        changes: Doc | Callable[[Doc], Doc],
    ) -> Doc | None:
        query = sa.select(t).where(t.c.id == doc_id)
        if self.backend == "postgresql":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            return None
        if callable(changes):
            changes = changes(row.doc)
        body = {**row.doc, **changes}
        stamp = now_iso()
        conn.execute(
            t.update().where(t.c.id == doc_id).values(doc=body, updated_at=stamp)
        )
        return {"id": row.id, "created_at": row.created_at, "updated_at": stamp, **body}

    def upsert(self, table: str, key_fields: Sequence[str], doc: Doc) -> str:
        t, cond = self._select(table, upsert_keys(key_fields, doc))
        with self._tx(write=True) as conn:
            if self.backend == "postgresql":
                # no unique index on arbitrary keys: serialise upserts of one key
                key = json.dumps([table, *(doc.get(k) for k in key_fields)])
                conn.execute(
                    sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(key)))
                )
            query = sa.select(t.c.id).where(cond).limit(1)
            if self.backend == "postgresql":
                query = query.with_for_update()
            found = conn.execute(query).scalar()
            if found is not None:
                self._update_in(conn, t, found, clean_changes(doc))
                return str(found)
            row = self._row_values(new_document(doc))
            conn.execute(t.insert(), [row])
            return str(row["id"])

    def delete(self, table: str, doc_id: str) -> bool:
        return self.delete_where(table, [Where("id", "==", doc_id)]) > 0

    def delete_where(self, table: str, where: Sequence[Where]) -> int:
        t, cond = self._select(table, where)
        with self._tx(write=True) as conn:
            return conn.execute(t.delete().where(cond)).rowcount

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
        t, cond = self._select(table, where)
        query = sa.select(t).where(cond)
        if order_by is None:
            keys = [t.c.created_at, t.c.id]
            query = query.order_by(*(k.desc() if descending else k for k in keys))
        else:
            check_field(order_by)
            key = order_expr(t, order_by, self.backend)
            key = key.desc().nulls_last() if descending else key.asc().nulls_first()
            query = query.order_by(key, t.c.id)
        if limit is not None:
            query = query.limit(max(limit, 0))
        if offset:
            query = query.offset(max(offset, 0))
        with self._tx() as conn:
            return [self._row_doc(r) for r in conn.execute(query)]

    def count(self, table: str, where: Sequence[Where] = ()) -> int:
        t, cond = self._select(table, where)
        query = sa.select(sa.func.count()).select_from(t).where(cond)
        with self._tx() as conn:
            return int(conn.execute(query).scalar() or 0)

    def put_many(self, table: str, docs: Sequence[Doc]) -> int:
        check_table(table)
        t = T.documents[table]
        rows = [self._row_values(d) for d in docs]
        if not rows:
            return 0
        stmt = self._insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.id],
            set_={c: stmt.excluded[c] for c in ("created_at", "updated_at", "doc")},
        )
        with self._tx(write=True) as conn:
            conn.execute(stmt, rows)
        return len(rows)

    # -- time series ------------------------------------------------------------
    def add_samples(self, samples: Sequence[Sample], *, rollup: bool = True) -> int:
        if not samples:
            return 0
        rows = [(s.server, s.metric, s.ts, s.value) for s in samples]
        with self._tx(write=True) as conn:
            # straight to the driver's executemany: SQLAlchemy's per-row
            # parameter handling cost more than the insert itself
            conn.exec_driver_sql(self._sample_insert, rows)
            if rollup:
                for resolution in ("hour", "day"):
                    self._fold(conn, resolution, rollup_batch(samples, resolution))
        return len(rows)

    def _fold(self, conn: Connection, resolution: str, rows: list[Rollup]) -> None:
        stmt = self._folds.get(resolution)
        if stmt is None:
            stmt = self._folds[resolution] = self._fold_statement(resolution)
        conn.execute(stmt, [_rollup_values(r) for r in rows])

    def _fold_statement(self, resolution: str) -> Any:
        t = T.rollups[resolution]
        stmt = self._insert(t)
        ex = stmt.excluded
        # two-argument min/max: scalar in SQLite, LEAST/GREATEST in PostgreSQL
        lo: Any = sa.func.min if self.backend == "sqlite" else sa.func.least
        hi: Any = sa.func.max if self.backend == "sqlite" else sa.func.greatest
        return stmt.on_conflict_do_update(
            index_elements=[t.c.server, t.c.metric, t.c.bucket],
            set_={
                "count": t.c.count + ex.count,
                "sum": t.c.sum + ex.sum,
                "min": lo(t.c.min, ex.min),
                "max": hi(t.c.max, ex.max),
            },
        )

    def query_series(
        self,
        servers: Sequence[str],
        metric: str,
        start: float,
        end: float,
        resolution: Resolution = "hour",
    ) -> list[Rollup]:
        servers = list(servers)
        if resolution == "raw":
            t = T.samples
            query = sa.select(t.c.server, t.c.metric, t.c.ts, t.c.value)
            cond = [t.c.ts >= start, t.c.ts < end]
            order = [t.c.server, t.c.ts]
        else:
            t = T.rollups[resolution]
            query = sa.select(t)
            cond = [t.c.bucket >= start, t.c.bucket < end]
            order = [t.c.server, t.c.bucket]
        query = query.where(t.c.server.in_(servers), t.c.metric == metric, *cond)
        with self._tx() as conn:
            result = conn.execute(query.order_by(*order)).all()
        if resolution == "raw":
            return [Rollup(r[0], r[1], r[2], 1, r[3], r[3], r[3]) for r in result]
        return [_rollup(r) for r in result]

    def prune_samples(self, before: float, resolution: Resolution = "raw") -> int:
        t = T.samples if resolution == "raw" else T.rollups[resolution]
        col = t.c.ts if resolution == "raw" else t.c.bucket
        with self._tx(write=True) as conn:
            return conn.execute(t.delete().where(col < before)).rowcount

    def iter_samples(self, batch: int = 50_000) -> Iterator[list[Sample]]:
        t = T.samples
        last = -1
        while True:
            query = sa.select(t).where(t.c.id > last).order_by(t.c.id).limit(batch)
            with self._tx() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            last = rows[-1].id
            yield [Sample(r.server, r.metric, r.ts, r.value) for r in rows]

    def iter_rollups(
        self, resolution: Resolution, batch: int = 50_000
    ) -> Iterator[list[Rollup]]:
        t = T.rollups[resolution]
        order = (t.c.server, t.c.metric, t.c.bucket)
        offset = 0
        while True:
            query = sa.select(t).order_by(*order).limit(batch).offset(offset)
            with self._tx() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            offset += len(rows)
            yield [_rollup(r) for r in rows]

    def put_rollups(self, resolution: Resolution, rows: Sequence[Rollup]) -> int:
        if not rows:
            return 0
        t = T.rollups[resolution]
        stmt = self._insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.server, t.c.metric, t.c.bucket],
            set_={c: stmt.excluded[c] for c in ("count", "sum", "min", "max")},
        )
        with self._tx(write=True) as conn:
            conn.execute(stmt, [_rollup_values(r) for r in rows])
        return len(rows)

    def clear_series(self) -> None:
        with self._tx(write=True) as conn:
            for t in (T.samples, *T.rollups.values()):
                conn.execute(t.delete())

    def series_counts(self) -> dict[str, int]:
        with self._tx() as conn:
            return {
                t.name: int(
                    conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                    or 0
                )
                for t in (T.samples, T.rollups["hour"], T.rollups["day"])
            }

    def oldest_sample(self) -> float | None:
        with self._tx() as conn:
            value = conn.execute(sa.select(sa.func.min(T.samples.c.ts))).scalar()
        return float(value) if value is not None else None

    # -- lifecycle ------------------------------------------------------------------
    def size_bytes(self) -> int | None:
        if self.backend == "sqlite":
            path = self.url.database or ""
            return sum(
                os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)
            )
        with self._tx() as conn:
            size = conn.execute(sa.text("SELECT pg_database_size(current_database())"))
            return int(size.scalar() or 0)

    def location(self) -> str:
        if self.url.get_backend_name() == "sqlite":
            return self.url.database or ""
        return self.url.render_as_string(hide_password=True)

    def thread_handle(self) -> SqlDatabase:
        if self._sibling is None:  # its own engine and pool; the tables exist
            url = self.url.render_as_string(hide_password=False)
            self._sibling = SqlDatabase(url, create_tables=False)
        return self._sibling

    def close(self) -> None:
        if self._sibling is not None:
            self._sibling.close()
        self.engine.dispose()


def _rollup(row: Any) -> Rollup:
    return Rollup(
        row.server, row.metric, row.bucket, row.count, row.sum, row.min, row.max
    )


def _rollup_values(r: Rollup) -> dict[str, Any]:
    return {
        "server": r.server,
        "metric": r.metric,
        "bucket": r.bucket,
        "count": r.count,
        "sum": r.sum,
        "min": r.min,
        "max": r.max,
    }
