"""Several processes opening one fresh store at once (gunicorn workers, RQ
workers, the gateway) all get it: the tables are created once, not raced."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ollama_webmgr.store.database import DatabaseManager, open_database

OPENERS = 8
PG_ADMIN = os.environ.get(
    "WEBMGR_TEST_POSTGRES_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def open_together(url: str) -> list[BaseException]:
    """Open ``url`` from OPENERS threads released at the same instant."""
    barrier = threading.Barrier(OPENERS)
    failures: list[BaseException] = []
    opened: list[DatabaseManager] = []

    def opener() -> None:
        barrier.wait()
        try:
            opened.append(open_database(url))
        except BaseException as exc:  # collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db in opened:
        db.close()
    return failures


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    name = f"webmgr_race_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE template0")
    yield admin.url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.mark.postgres
def test_fresh_postgres_opened_at_once(fresh_postgres: str) -> None:
    assert open_together(fresh_postgres) == []
    db = open_database(fresh_postgres)
    try:
        db.insert("audit", {"who": "test"})
        assert db.count("audit") == 1
    finally:
        db.close()


def test_fresh_sqlite_opened_at_once(tmp_path: Path) -> None:
    assert open_together(f"sqlite:///{tmp_path / 'fresh.sqlite3'}") == []
