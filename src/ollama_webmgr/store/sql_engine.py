"""Engine set-up: SQLite pragmas and write transactions, PostgreSQL reachability."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


def create_engine(url: str, backend: str) -> Engine:
    if backend == "postgresql":
        engine = sa.create_engine(
            url, pool_pre_ping=True, connect_args={"connect_timeout": 5}
        )
        with engine.connect():
            pass  # fail now, with a clear message, if the server is unreachable
        return engine
    engine = sa.create_engine(url, connect_args={"timeout": 30})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control so writers can BEGIN IMMEDIATE: a deferred
        # BEGIN that later needs the write lock fails at once instead of waiting.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed transaction survives a crash of the process.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
