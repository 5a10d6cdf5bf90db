"""Several processes (gunicorn's workers) open a fresh database at the same time."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from ollama_webmgr.store.database import DatabaseManager, open_database


@pytest.mark.parametrize(
    "store_url",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_opening_a_fresh_database_at_once_from_several_places(store_url: str) -> None:
    if store_url.startswith("postgresql"):
        # a fresh database: no table yet
        engine = sa.create_engine(store_url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
    opened: list[DatabaseManager] = []
    errors: list[Exception] = []
    start = threading.Barrier(6)

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_database(store_url))
        except Exception as exc:  # the failure under test
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for db in opened:
        db.close()
    assert errors == []
    assert len(opened) == 6
